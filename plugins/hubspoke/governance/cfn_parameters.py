"""Binding values to a template's Parameters, with CloudFormation's types and constraints."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hubspoke.governance.cfn_errors import TemplateError

_LIST_TYPES = ("CommaDelimitedList", "List<")


def _is_list_type(declared: str) -> bool:
    return declared.startswith(_LIST_TYPES)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _coerce(name: str, declared: str, value: Any, source: str) -> Any:
    if _is_list_type(declared):
        if isinstance(value, str):
            # As CloudFormation: "" is one empty item, not an empty list.
            items = [item.strip() for item in value.split(",")]
        elif isinstance(value, (list, tuple)):
            items = [_as_text(item) for item in value]
        else:
            raise TemplateError(source, f"Parameters.{name}", f"expects a list, got {value!r}")
        return items
    if isinstance(value, (list, tuple)):
        raise TemplateError(source, f"Parameters.{name}", f"is a {declared}, got a list {value!r}")
    text = _as_text(value)
    if declared == "Number":
        try:
            float(text)
        except ValueError:
            raise TemplateError(source, f"Parameters.{name}", f"not a Number: {text!r}") from None
    return text


def _check(name: str, spec: Mapping[str, Any], value: Any, source: str) -> None:
    values = value if isinstance(value, list) else [value]
    allowed = spec.get("AllowedValues")
    pattern = spec.get("AllowedPattern")
    for item in values:
        if allowed is not None and item not in [_as_text(a) for a in allowed]:
            choices = ", ".join(_as_text(a) for a in allowed)
            raise TemplateError(
                source, f"Parameters.{name}", f"value {item!r} is not one of {choices}"
            )
        if pattern is not None and not re.fullmatch(str(pattern), item):
            raise TemplateError(
                source, f"Parameters.{name}", f"value {item!r} does not match {pattern}"
            )


def resolve_parameters(
    declared: Mapping[str, Any], given: Mapping[str, Any], source: str
) -> dict[str, Any]:
    """Values for every declared parameter: the given one, else its Default.

    List types (``CommaDelimitedList``, ``List<...>``) resolve to lists of strings, everything
    else to a string. ``AllowedValues`` and ``AllowedPattern`` are enforced.
    """
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if not isinstance(spec, Mapping) or "Type" not in spec:
            raise TemplateError(source, f"Parameters.{name}", "a parameter needs a Type")
        declared_type = str(spec["Type"])
        if name in given:
            raw = given[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise TemplateError(
                source,
                f"Parameters.{name}",
                "no value was given and the parameter has no Default",
            )
        if declared_type.startswith("AWS::SSM::Parameter::Value") and name not in given:
            raise TemplateError(
                source,
                f"Parameters.{name}",
                "an SSM parameter value cannot be read offline; pass the value explicitly",
            )
        value = _coerce(name, declared_type, raw, source)
        _check(name, spec, value, source)
        values[name] = value
    return values
