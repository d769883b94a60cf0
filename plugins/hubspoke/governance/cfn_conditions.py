"""Evaluating a template's Conditions: ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or``,
``Condition``. Each condition is evaluated once, on first use; a condition that refers to itself
(directly or through others) is an error rather than a recursion crash."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hubspoke.governance.cfn_errors import TemplateError, format_path

Path = tuple[str | int, ...]
Resolve = Callable[[Any, Path], Any]


def _comparable(value: Any) -> Any:
    # CloudFormation compares the string forms: a Number parameter "1" equals 1.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


class ConditionEvaluator:
    """The Conditions section of one template, evaluated lazily with memoisation."""

    def __init__(self, conditions: Mapping[str, Any], resolve: Resolve, source: str) -> None:
        self._raw = dict(conditions)
        self._resolve = resolve
        self._source = source
        self._values: dict[str, bool] = {}
        self._evaluating: list[str] = []

    def _fail(self, path: Path, problem: str) -> TemplateError:
        return TemplateError(self._source, format_path(path), problem)

    def value(self, name: Any, path: Path) -> bool:
        """The value of condition ``name``; ``path`` is where it is used, for errors."""
        if not isinstance(name, str) or name not in self._raw:
            raise self._fail(path, f"no condition named {name!r} in Conditions")
        if name in self._values:
            return self._values[name]
        if name in self._evaluating:
            chain = " -> ".join([*self._evaluating, name])
            raise self._fail(("Conditions", name), f"circular condition: {chain}")
        self._evaluating.append(name)
        try:
            result = self.evaluate(self._raw[name], ("Conditions", name))
        finally:
            self._evaluating.pop()
        self._values[name] = result
        return result

    def evaluate(self, expression: Any, path: Path) -> bool:
        """Evaluate one condition expression."""
        if isinstance(expression, bool):
            return expression
        if not (isinstance(expression, dict) and len(expression) == 1):
            raise self._fail(
                path, f"a condition must be one condition function, got {expression!r}"
            )
        ((function, args),) = expression.items()
        here = (*path, function)
        if function == "Condition":
            return self.value(args, here)
        if function == "Fn::Equals":
            if not (isinstance(args, list) and len(args) == 2):
                raise self._fail(here, "Fn::Equals needs exactly two values")
            left = self._resolve(args[0], (*here, 0))
            right = self._resolve(args[1], (*here, 1))
            return bool(_comparable(left) == _comparable(right))
        if function == "Fn::Not":
            if not (isinstance(args, list) and len(args) == 1):
                raise self._fail(here, "Fn::Not needs a list of one condition")
            return not self.evaluate(args[0], (*here, 0))
        if function in ("Fn::And", "Fn::Or"):
            if not (isinstance(args, list) and 2 <= len(args) <= 10):
                raise self._fail(here, f"{function} needs a list of 2 to 10 conditions")
            results = [self.evaluate(item, (*here, i)) for i, item in enumerate(args)]
            return all(results) if function == "Fn::And" else any(results)
        raise self._fail(here, f"{function} is not a condition function")

    def all(self) -> dict[str, bool]:
        """Every condition, evaluated."""
        return {name: self.value(name, ("Conditions", name)) for name in self._raw}
