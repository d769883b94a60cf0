"""Policy documents: validation, normalisation and compilation.

A document is compiled once (and cached by its JSON text) into :class:`Statement` objects
whose matchers are ready to run. Everything a statement needs per request is the
lower-cased action, the resource ARN (service segment lower-cased), the resolved caller and
the request context.

Accepted grammar: ``Statement`` is one object or a list; ``Action``/``NotAction``,
``Resource``/``NotResource`` are a string or a list of strings; ``Principal``/``NotPrincipal``
is ``"*"`` or an object; ``Effect`` is ``Allow`` or ``Deny``. A statement without
``Resource``/``NotResource`` covers every resource (role trust policies are written that
way). Identity-based documents (identity, boundary, session, SCP) must not name principals;
resource-based documents must.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from hubspoke.iam.conditions import ConditionCheck, parse_condition
from hubspoke.iam.context import RequestContext
from hubspoke.iam.errors import PolicyValidationError
from hubspoke.iam.matching import MODE_ARN, ActionMatcher, glob_match, normalize_arn
from hubspoke.iam.principals import GRANT_DIRECT, GRANT_NONE, Caller, PrincipalSpec
from hubspoke.iam.principals import parse_principal as _parse_principal
from hubspoke.iam.variables import Piece, Template, Unresolved, compile_template

__all__ = ["Outcome", "Policy", "Statement", "parse_policy"]

_VERSIONS = ("2012-10-17", "2008-10-17")
_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal",
     "NotPrincipal", "Condition"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Statement:
    """One compiled statement. ``resources`` None means the statement has no Resource."""

    index: int
    sid: str | None
    allow: bool
    actions: ActionMatcher
    not_action: bool
    resources: tuple[Template, ...] | None
    static_resources: tuple[tuple[Piece, ...], ...] | None
    not_resource: bool
    principal: PrincipalSpec | None
    not_principal: bool
    conditions: tuple[ConditionCheck, ...]
    every_resource: bool  # no Resource, or a literal "*": skip matching altogether

    def covers_action(self, action: str) -> bool:
        """Action/NotAction match for an already lower-cased action."""
        return self.actions.matches(action) != self.not_action

    def applies(self, action: str, resource: str, ctx: RequestContext) -> bool:
        """Action, resource and condition match (the principal is checked separately).

        ``action`` must be lower-cased and ``resource`` passed through ``normalize_arn``.
        A policy variable that cannot be resolved makes the statement inapplicable.
        """
        return self.covers_action(action) and self.applies_to(resource, ctx)

    def applies_to(self, resource: str, ctx: RequestContext) -> bool:
        """Resource and condition match, for a statement already known to cover the action."""
        try:
            if not self.every_resource and self.resources is not None:
                patterns = self.static_resources
                if patterns is None:
                    patterns = tuple(t.resolve(ctx.single) for t in self.resources)
                hit = any(glob_match(p, resource, MODE_ARN) for p in patterns)
                if hit == self.not_resource:
                    return False
            if not self.conditions:
                return True
            return all(check.holds(ctx) for check in self.conditions)
        except Unresolved:
            return False

    def grant_for(self, caller: Caller, has_boundary: bool) -> int:
        """How this statement's Principal/NotPrincipal names ``caller`` (GRANT_* level)."""
        spec = self.principal
        if spec is None:
            return GRANT_DIRECT
        if not self.not_principal:
            return spec.grant_for(caller)
        # Documented gotcha: a Deny with NotPrincipal always denies a principal that has a
        # permissions boundary, whatever NotPrincipal lists.
        if not self.allow and has_boundary:
            return GRANT_DIRECT
        return GRANT_NONE if spec.excludes(caller) else GRANT_DIRECT


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one policy says about one request."""

    deny: Statement | None
    allow: Statement | None
    grant: int


_NOTHING = Outcome(None, None, GRANT_NONE)


@dataclass(frozen=True, slots=True)
class Policy:
    """A named, compiled policy document."""

    name: str
    version: str | None
    statements: tuple[Statement, ...]
    resource_based: bool
    # Statements covering each action seen so far: most statements of most policies never
    # concern a given action, and the emulator asks about few distinct actions.
    _by_action: dict[str, tuple[Statement, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def statements_for(self, action: str) -> tuple[Statement, ...]:
        """The statements whose Action/NotAction covers the lower-cased ``action``."""
        found = self._by_action.get(action)
        if found is None:
            found = tuple(s for s in self.statements if s.covers_action(action))
            if len(self._by_action) < 4096:
                self._by_action[action] = found
        return found

    def evaluate(
        self,
        action: str,
        resource: str,
        ctx: RequestContext,
        caller: Caller | None = None,
        has_boundary: bool = False,
    ) -> Outcome:
        """First applicable Deny (which ends the search), else the strongest Allow.

        For identity-based documents ``grant`` is GRANT_DIRECT when something allows.
        For resource-based documents ``caller`` is required and ``grant`` tells how the
        allowing statement named the caller.
        """
        allow: Statement | None = None
        grant = GRANT_NONE
        for statement in self.statements_for(action):
            if self.resource_based:
                assert caller is not None
                level = statement.grant_for(caller, has_boundary)
                if level == GRANT_NONE or (statement.allow and level <= grant):
                    continue
            else:
                level = GRANT_DIRECT
                if statement.allow and allow is not None:
                    continue
            if not statement.applies_to(resource, ctx):
                continue
            if not statement.allow:
                return Outcome(statement, None, GRANT_NONE)
            allow, grant = statement, level
        if allow is None:
            return _NOTHING
        return Outcome(None, allow, grant)


def _strings(raw: object, where: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(item, str) and item for item in items):
        raise PolicyValidationError(where, "must be a non-empty string or list of strings")
    return tuple(str(item) for item in items)


def _actions(raw: object, where: str) -> ActionMatcher:
    actions = _strings(raw, where)
    for action in actions:
        if action != "*" and ":" not in action:
            raise PolicyValidationError(where, f'{action!r} is not service:action or "*"')
    return ActionMatcher.build(actions)


def _statement(raw: object, index: int, version: str | None, resource_based: bool) -> Statement:
    where = f"Statement[{index}]"
    if not isinstance(raw, Mapping):
        raise PolicyValidationError(where, "must be an object")
    unknown = sorted(set(raw) - _STATEMENT_KEYS)
    if unknown:
        raise PolicyValidationError(where, f"unknown element(s) {', '.join(unknown)}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyValidationError(f"{where}.Effect", f"must be Allow or Deny, got {effect!r}")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyValidationError(f"{where}.Sid", "must be a string")
    pairs = (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal"))
    for plain, negated in pairs:
        if plain in raw and negated in raw:
            raise PolicyValidationError(where, f"cannot have both {plain} and {negated}")
    if "Action" not in raw and "NotAction" not in raw:
        raise PolicyValidationError(where, "needs Action or NotAction")
    not_action = "NotAction" in raw
    actions = _actions(raw["NotAction" if not_action else "Action"], f"{where}.Action")

    variables = version == "2012-10-17"
    not_resource = "NotResource" in raw
    resources: tuple[Template, ...] | None = None
    static: tuple[tuple[Piece, ...], ...] | None = None
    if "Resource" in raw or not_resource:
        key = "NotResource" if not_resource else "Resource"
        texts = _strings(raw[key], f"{where}.{key}")
        resources = tuple(compile_template(normalize_arn(t), variables) for t in texts)
        if not any(t.has_variables for t in resources):
            static = tuple(t.resolve(lambda _k: None) for t in resources)

    has_principal = "Principal" in raw or "NotPrincipal" in raw
    if resource_based and not has_principal:
        raise PolicyValidationError(where, "a resource-based policy must name a Principal")
    if not resource_based and has_principal:
        raise PolicyValidationError(where, "this kind of policy cannot name a Principal")
    not_principal = "NotPrincipal" in raw
    principal = None
    if has_principal:
        key = "NotPrincipal" if not_principal else "Principal"
        principal = _parse_principal(raw[key], f"{where}.{key}")
    conditions: tuple[ConditionCheck, ...] = ()
    if "Condition" in raw:
        conditions = parse_condition(
            raw["Condition"], variables=variables, where=f"{where}.Condition"
        )
    every_resource = resources is None or (
        not not_resource and static is not None and ((False, "*"),) in static
    )
    return Statement(
        index, sid, effect == "Allow", actions, not_action, resources, static, not_resource,
        principal, not_principal, conditions, every_resource,
    )  # fmt: skip


@lru_cache(maxsize=4096)
def _compile(text: str, name: str, resource_based: bool) -> Policy:
    doc = json.loads(text)
    if not isinstance(doc, Mapping):
        raise PolicyValidationError("", "a policy document must be a JSON object")
    unknown = sorted(set(doc) - {"Version", "Id", "Statement"})
    if unknown:
        raise PolicyValidationError("", f"unknown top-level element(s) {', '.join(unknown)}")
    version = doc.get("Version")
    if version is not None and version not in _VERSIONS:
        raise PolicyValidationError("Version", f"must be one of {', '.join(_VERSIONS)}")
    if "Statement" not in doc:
        raise PolicyValidationError("", "a policy document needs a Statement")
    raw = doc["Statement"]
    items = raw if isinstance(raw, list) else [raw]
    statements = tuple(_statement(s, i, version, resource_based) for i, s in enumerate(items))
    return Policy(name, version, statements, resource_based)


def parse_policy(document: object, name: str, *, resource_based: bool = False) -> Policy:
    """Validate and compile ``document``; raises :class:`PolicyValidationError`.

    Compiled policies are cached by the document's canonical JSON and name, so the same
    session policy passed on every request is compiled once and costs one ``json.dumps``.
    """
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise PolicyValidationError("", f"not valid JSON ({exc.msg})") from None
    if not isinstance(document, Mapping):
        raise PolicyValidationError("", "a policy document must be a JSON object")
    try:
        text = json.dumps(document, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise PolicyValidationError("", f"not JSON-serialisable ({exc})") from None
    return _compile(text, name, resource_based)
