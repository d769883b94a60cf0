"""Pipeline definition expressions: ``Get``, ``Std:Join``, ``Std:JsonGet`` and conditions.

A definition (``Version`` 2020-12-01, as the SageMaker SDK emits it) holds plain JSON values
and expressions. :func:`resolve` replaces every expression in a value with what it stands
for, given a :class:`Scope` that knows parameters, execution variables, finished steps'
properties and how to read property files. Anything not understood raises
:class:`ExpressionError`: an execution must fail on it, never run with a guessed value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# ``Outputs['train']``, ``[0]`` or ``.Name`` segments of a property path.
_SEGMENT = re.compile(
    r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]|\[(\d+)\]"
)
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


class ExpressionError(ValueError):
    """An expression that cannot be evaluated; the message says which and why."""


@dataclass(frozen=True)
class PropertyFileRef:
    """``Steps.<step>.PropertyFiles.<name>``: a JSON file a processing step declared."""

    step: str
    name: str


@dataclass
class Scope:
    """What expressions can see.

    ``steps`` maps a finished step's name to its properties (the Describe response of its job,
    or ``{}``); ``read_property_file`` returns the parsed JSON of a step's property file and
    ``read_json`` that of an S3 URI (both called only when an expression needs them).
    """

    parameters: Mapping[str, Any]
    execution: Mapping[str, Any]
    steps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    read_property_file: Callable[[PropertyFileRef], Any] | None = None
    read_json: Callable[[str], Any] | None = None


def property_path(path: str) -> list[str | int]:
    """Split ``A.B['c'][0].D`` into ``["A", "B", "c", 0, "D"]``."""
    segments: list[str | int] = []
    position = 0
    while position < len(path):
        match = _SEGMENT.match(path, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"cannot parse property path {path!r} at {path[position:]!r}")
        name, quoted, double_quoted, index = match.groups()
        if index is not None:
            segments.append(int(index))
        else:
            segments.append(name if name is not None else (quoted or double_quoted or ""))
        position = match.end()
    return segments


def select(node: Any, segment: str | int, where: str) -> Any:
    """One step down a property path; a name indexes a list of named items."""
    if isinstance(segment, int):
        if isinstance(node, list) and -len(node) <= segment < len(node):
            return node[segment]
        raise ExpressionError(f"{where}: no item {segment}")
    if isinstance(node, Mapping) and segment in node:
        return node[segment]
    if isinstance(node, list):
        # Lists of named items (Outputs, channels) are indexed by their ...Name field.
        for item in node:
            if isinstance(item, Mapping) and any(
                key.endswith("Name") and value == segment for key, value in item.items()
            ):
                return item
    raise ExpressionError(f"{where}: no property {segment!r}")


def get(path: str, scope: Scope) -> Any:
    """The value of a ``Get`` path: ``Parameters.X``, ``Execution.X`` or ``Steps.X.<path>``."""
    root, _, rest = path.partition(".")
    if root == "Parameters":
        if rest not in scope.parameters:
            raise ExpressionError(f"Get {path}: the pipeline has no parameter {rest!r}")
        return scope.parameters[rest]
    if root == "Execution":
        if rest not in scope.execution:
            raise ExpressionError(f"Get {path}: unknown execution variable {rest!r}")
        return scope.execution[rest]
    if root == "Steps":
        segments = property_path(rest)
        if not segments or not isinstance(segments[0], str):
            raise ExpressionError(f"Get {path}: no step named")
        step = segments[0]
        if step not in scope.steps:
            raise ExpressionError(f"Get {path}: step {step!r} has not run")
        if len(segments) == 3 and segments[1] == "PropertyFiles":
            return PropertyFileRef(step, str(segments[2]))
        node: Any = scope.steps[step]
        for segment in segments[1:]:
            node = select(node, segment, f"Get {path}")
        return node
    raise ExpressionError(f"Get {path}: unknown root {root!r}")


def json_path(document: Any, path: str) -> Any:
    """Walk ``a.b[0].c`` (the JsonGet path syntax) through a parsed JSON document."""
    node = document
    for segment in property_path(path):
        node = select(node, segment, f"JsonGet path {path!r}")
    return node


def as_text(value: Any) -> str:
    """A value as ``Std:Join`` writes it: JSON literals for booleans and null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _json_get(arguments: Mapping[str, Any], scope: Scope) -> Any:
    path = resolve(arguments.get("Path"), scope)
    if not isinstance(path, str):
        raise ExpressionError("Std:JsonGet needs a Path")
    if "PropertyFile" in arguments:
        reference = arguments["PropertyFile"]
        target = resolve(reference, scope) if isinstance(reference, Mapping) else reference
        if not isinstance(target, PropertyFileRef):
            raise ExpressionError(f"Std:JsonGet: {reference!r} is not a step's property file")
        if scope.read_property_file is None:
            raise ExpressionError("Std:JsonGet: property files cannot be read here")
        document = scope.read_property_file(target)
    elif "S3Uri" in arguments:
        uri = resolve(arguments["S3Uri"], scope)
        if scope.read_json is None or not isinstance(uri, str):
            raise ExpressionError("Std:JsonGet: S3 documents cannot be read here")
        document = scope.read_json(uri)
    else:
        raise ExpressionError("Std:JsonGet needs a PropertyFile or an S3Uri")
    return json_path(document, path)


def resolve(value: Any, scope: Scope) -> Any:
    """``value`` with every expression in it evaluated (a new structure; input untouched)."""
    if isinstance(value, list):
        return [resolve(item, scope) for item in value]
    if not isinstance(value, Mapping):
        return value
    if set(value) == {"Get"}:
        return get(str(value["Get"]), scope)
    functions = [key for key in value if isinstance(key, str) and key.startswith("Std:")]
    if functions:
        if len(value) != 1:
            raise ExpressionError(f"malformed expression {json.dumps(value)[:200]}")
        name = functions[0]
        arguments = value[name]
        if name == "Std:Join":
            values = resolve(arguments.get("Values", []), scope)
            return as_text(resolve(arguments.get("On", ""), scope)).join(map(as_text, values))
        if name == "Std:JsonGet":
            return _json_get(arguments, scope)
        raise ExpressionError(f"unsupported function {name}")
    return {key: resolve(item, scope) for key, item in value.items()}


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    # A number against numeric text (a parameter given as a string) compares as numbers.
    if isinstance(left, (int, float)) and isinstance(right, str):
        return left, _number(right)
    if isinstance(right, (int, float)) and isinstance(left, str):
        return _number(left), right
    return left, right


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ExpressionError(f"cannot compare {text!r} with a number") from None


def evaluate_condition(condition: Mapping[str, Any], scope: Scope) -> bool:
    """Whether one condition of a ``Condition`` step holds."""
    kind = condition.get("Type")
    if kind in _COMPARISONS:
        left, right = _comparable(
            resolve(condition.get("LeftValue"), scope), resolve(condition.get("RightValue"), scope)
        )
        try:
            return bool(_COMPARISONS[kind](left, right))
        except TypeError:
            raise ExpressionError(f"{kind}: cannot compare {left!r} with {right!r}") from None
    if kind == "In":
        query = resolve(condition.get("QueryValue"), scope)
        return any(
            _comparable(query, option)[0] == _comparable(query, option)[1]
            for option in resolve(condition.get("Values", []), scope)
        )
    if kind == "Not":
        inner = condition.get("Condition") or condition.get("Expression")
        if not isinstance(inner, Mapping):
            raise ExpressionError("Not needs a Condition")
        return not evaluate_condition(inner, scope)
    if kind == "Or":
        return any(evaluate_condition(inner, scope) for inner in condition.get("Conditions", []))
    raise ExpressionError(f"unsupported condition type {kind!r}")


def step_references(value: Any) -> set[str]:
    """Names of the steps whose properties ``value`` refers to (its implicit dependencies)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= step_references(item)
    elif isinstance(value, Mapping):
        reference = value.get("Get") if len(value) == 1 else None
        if isinstance(reference, str) and reference.startswith("Steps."):
            segments = property_path(reference[len("Steps.") :])
            if segments and isinstance(segments[0], str):
                found.add(segments[0])
        else:
            for item in value.values():
                found |= step_references(item)
    return found
