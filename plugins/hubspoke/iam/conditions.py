"""The Condition element: operators, set qualifiers, ``...IfExists`` and missing keys.

Semantics, as documented in "IAM JSON policy elements: Condition operators" and
"Creating a condition with multiple keys or values":

* Several operators in one Condition block, and several keys under one operator, are ANDed.
* Several values for one key are ORed: the key matches if it matches any value. For a
  negated operator (``StringNotEquals``, ``ArnNotLike``, ``NotIpAddress``...) the test is the
  negation of that OR: the context value must match *none* of the values.
* A key missing from the request makes a positive operator false and a negated operator
  true. ``...IfExists`` makes any operator true on a missing key. ``Null`` tests presence.
* ``ForAllValues:`` is true when every request value passes (and so on a missing key or an
  empty set: the well-known gotcha); ``ForAnyValue:`` is true when at least one passes, and
  false on a missing key or an empty set.
* Policy variables are substituted in String, ARN and Bool values only.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hubspoke.iam.context import RequestContext
from hubspoke.iam.errors import PolicyValidationError
from hubspoke.iam.matching import MODE_ARN, MODE_STRING, glob_match, normalize_arn
from hubspoke.iam.variables import Piece, Template, compile_template, pieces_text

__all__ = ["ConditionCheck", "parse_condition"]

_SET_NONE, _SET_ALL, _SET_ANY = 0, 1, 2

# Kinds of policy value preparation.
_TEMPLATE, _TEMPLATE_ARN, _NUMBER, _DATE, _IP, _BINARY = range(6)

Matcher = Callable[[str, Any], bool]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    """Seconds since the epoch for an ISO 8601 date/time or an epoch number."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # AWS reads zone-less times as UTC
    return parsed.timestamp()


def _binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _ip(ctx: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_address(ctx) in net
    except ValueError:
        return False


def _numeric(compare: Callable[[float, float], bool]) -> Matcher:
    def match(ctx: str, policy: float) -> bool:
        value = _number(ctx)
        return value is not None and compare(value, policy)

    return match


def _dated(compare: Callable[[float, float], bool]) -> Matcher:
    def match(ctx: str, policy: float) -> bool:
        value = _date(ctx)
        return value is not None and compare(value, policy)

    return match


def _eq(a: float, b: float) -> bool:
    return a == b


def _lt(a: float, b: float) -> bool:
    return a < b


def _le(a: float, b: float) -> bool:
    return a <= b


def _gt(a: float, b: float) -> bool:
    return a > b


def _ge(a: float, b: float) -> bool:
    return a >= b


def _str_eq(ctx: str, policy: tuple[Piece, ...]) -> bool:
    return ctx == pieces_text(policy)


def _str_ieq(ctx: str, policy: tuple[Piece, ...]) -> bool:
    return ctx.lower() == pieces_text(policy).lower()


def _str_like(ctx: str, policy: tuple[Piece, ...]) -> bool:
    return glob_match(policy, ctx, MODE_STRING)


def _arn_like(ctx: str, policy: tuple[Piece, ...]) -> bool:
    return glob_match(policy, normalize_arn(ctx), MODE_ARN)


def _bool(ctx: str, policy: tuple[Piece, ...]) -> bool:
    return ctx.lower() == pieces_text(policy).lower()


def _bin(ctx: str, policy: bytes) -> bool:
    return _binary(ctx) == policy


# lower-case base operator -> (matcher, negated, value kind)
_OPERATORS: dict[str, tuple[Matcher, bool, int]] = {
    "stringequals": (_str_eq, False, _TEMPLATE),
    "stringnotequals": (_str_eq, True, _TEMPLATE),
    "stringequalsignorecase": (_str_ieq, False, _TEMPLATE),
    "stringnotequalsignorecase": (_str_ieq, True, _TEMPLATE),
    "stringlike": (_str_like, False, _TEMPLATE),
    "stringnotlike": (_str_like, True, _TEMPLATE),
    "numericequals": (_numeric(_eq), False, _NUMBER),
    "numericnotequals": (_numeric(_eq), True, _NUMBER),
    "numericlessthan": (_numeric(_lt), False, _NUMBER),
    "numericlessthanequals": (_numeric(_le), False, _NUMBER),
    "numericgreaterthan": (_numeric(_gt), False, _NUMBER),
    "numericgreaterthanequals": (_numeric(_ge), False, _NUMBER),
    "dateequals": (_dated(_eq), False, _DATE),
    "datenotequals": (_dated(_eq), True, _DATE),
    "datelessthan": (_dated(_lt), False, _DATE),
    "datelessthanequals": (_dated(_le), False, _DATE),
    "dategreaterthan": (_dated(_gt), False, _DATE),
    "dategreaterthanequals": (_dated(_ge), False, _DATE),
    "bool": (_bool, False, _TEMPLATE),
    "binaryequals": (_bin, False, _BINARY),
    "ipaddress": (_ip, False, _IP),
    "notipaddress": (_ip, True, _IP),
    "arnequals": (_arn_like, False, _TEMPLATE_ARN),
    "arnlike": (_arn_like, False, _TEMPLATE_ARN),
    "arnnotequals": (_arn_like, True, _TEMPLATE_ARN),
    "arnnotlike": (_arn_like, True, _TEMPLATE_ARN),
}


@dataclass(frozen=True, slots=True)
class ConditionCheck:
    """One ``operator -> key -> values`` test, compiled."""

    operator: str
    key: str
    set_op: int
    if_exists: bool
    negated: bool
    null: bool
    matcher: Matcher | None
    templates: tuple[Template, ...]
    static: tuple[Any, ...]

    def holds(self, ctx: RequestContext) -> bool:
        """Evaluate against ``ctx``; may raise :class:`~hubspoke.iam.variables.Unresolved`."""
        found = ctx.get(self.key)
        if self.null:
            absent = not found
            return any((value == "true") == absent for value in self.static)
        if not found:
            if self.set_op == _SET_ALL:
                return True
            if self.set_op == _SET_ANY:
                return self.if_exists and found is None
            return self.if_exists or self.negated
        if self.templates:
            lookup = ctx.single
            policy_values: tuple[Any, ...] = tuple(t.resolve(lookup) for t in self.templates)
        else:
            policy_values = self.static
        matcher = self.matcher
        assert matcher is not None
        if self.set_op == _SET_NONE:
            hit = any(matcher(value, p) for value in found for p in policy_values)
            return hit != self.negated
        passes = (any(matcher(value, p) for p in policy_values) != self.negated for value in found)
        return all(passes) if self.set_op == _SET_ALL else any(passes)


def _values(raw: object, where: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            out.append(str(item))
        else:
            raise PolicyValidationError(
                where, f"condition values must be strings, numbers or booleans, got {item!r}"
            )
    return tuple(out)


def _prepare(kind: int, text: str, where: str, variables: bool) -> Any:
    if kind == _TEMPLATE:
        return compile_template(text, variables)
    if kind == _TEMPLATE_ARN:
        return compile_template(normalize_arn(text), variables)
    parsed: Any
    if kind == _NUMBER:
        parsed = _number(text)
    elif kind == _DATE:
        parsed = _date(text)
    elif kind == _BINARY:
        parsed = _binary(text)
    else:
        try:
            parsed = ipaddress.ip_network(text, strict=False)
        except ValueError:
            parsed = None
    if parsed is None:
        raise PolicyValidationError(where, f"{text!r} is not a valid value for this operator")
    return parsed


def _split_operator(operator: str, where: str) -> tuple[int, str, bool]:
    lowered = operator.lower()
    set_op = _SET_NONE
    if lowered.startswith("forallvalues:"):
        set_op, lowered = _SET_ALL, lowered[len("forallvalues:") :]
    elif lowered.startswith("foranyvalue:"):
        set_op, lowered = _SET_ANY, lowered[len("foranyvalue:") :]
    if_exists = lowered.endswith("ifexists")
    if if_exists:
        lowered = lowered[: -len("ifexists")]
    if lowered == "null":
        if if_exists:
            raise PolicyValidationError(where, "Null cannot take the IfExists suffix")
    elif lowered not in _OPERATORS:
        raise PolicyValidationError(where, f"unknown condition operator {operator!r}")
    return set_op, lowered, if_exists


def parse_condition(
    block: object, *, variables: bool, where: str = "Condition"
) -> tuple[ConditionCheck, ...]:
    """Compile a Condition element; ``variables`` is False for pre-2012-10-17 policies."""
    if not isinstance(block, Mapping):
        raise PolicyValidationError(where, "must be an object of operator -> {key: values}")
    checks: list[ConditionCheck] = []
    for operator, keys in block.items():
        here = f"{where}.{operator}"
        set_op, base, if_exists = _split_operator(str(operator), here)
        if not isinstance(keys, Mapping):
            raise PolicyValidationError(here, "must be an object of condition key -> values")
        for key, raw in keys.items():
            values = _values(raw, f"{here}.{key}")
            if base == "null":
                bad = [v for v in values if v.lower() not in ("true", "false")]
                if bad:
                    raise PolicyValidationError(f"{here}.{key}", "Null takes true or false")
                checks.append(
                    ConditionCheck(
                        str(operator), str(key).lower(), set_op, False, False, True, None, (),
                        tuple(v.lower() for v in values),
                    )
                )  # fmt: skip
                continue
            matcher, negated, kind = _OPERATORS[base]
            prepared = tuple(_prepare(kind, v, f"{here}.{key}", variables) for v in values)
            templated = kind in (_TEMPLATE, _TEMPLATE_ARN) and any(
                t.has_variables for t in prepared
            )
            static = (
                tuple(t.resolve(lambda _k: None) for t in prepared)
                if kind in (_TEMPLATE, _TEMPLATE_ARN) and not templated
                else prepared
            )
            checks.append(
                ConditionCheck(
                    str(operator), str(key).lower(), set_op, if_exists, negated, False, matcher,
                    prepared if templated else (), () if templated else static,
                )
            )  # fmt: skip
    return tuple(checks)
