"""Request evaluation, following AWS's documented "Policy evaluation logic" and
"Cross-account policy evaluation logic".

1. Every applicable policy is searched for an explicit deny: SCPs (each level of the
   caller's OU path), the resource-based policy, identity-based policies, the permissions
   boundary and the session policy. Any deny ends evaluation.
2. SCPs: unless the caller is exempt (the management account, service-linked roles,
   service principals), every level from the root down to the account must allow.
3. Service principals are authorised by the resource-based policy alone.
4. Cross-account (the resource's account differs from the caller's): the caller's
   identity-based policies, limited by its boundary and session policy, AND the resource
   policy must both allow.
5. Same account: the union of identity-based and resource-based grants, where how the
   resource policy names the caller matters (see :mod:`hubspoke.iam.principals`): a grant to
   the session, user or service stands alone; a grant to the role ARN is still limited by
   the boundary and session policy; a grant to the account needs an identity-based allow.
   Role trust policies (``sts:AssumeRole*``) and KMS key policies are *required*: without
   their allow nothing else can grant access.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hubspoke.iam import decision as _d
from hubspoke.iam.arn import try_parse_arn
from hubspoke.iam.context import ContextValue, RequestContext
from hubspoke.iam.decision import Decision, Layer
from hubspoke.iam.errors import PolicyValidationError, RequestError
from hubspoke.iam.matching import normalize_arn
from hubspoke.iam.organization import ScpLevel
from hubspoke.iam.policy import Policy, Statement, parse_policy
from hubspoke.iam.principals import (
    GRANT_DIRECT,
    GRANT_NONE,
    GRANT_ROLE,
    KIND_ROLE,
    KIND_ROOT,
    KIND_USER,
    Caller,
)
from hubspoke.iam.world import PrincipalEntry, ResourcePolicy, World

__all__ = ["Request", "evaluate"]


@dataclass(frozen=True)
class Request:
    """One API call to authorise.

    ``principal`` is named as the caller would be in an AccessDenied message: an
    assumed-role session ARN (resolved to its role), a role or user ARN, an account root ARN,
    or a service principal such as ``sagemaker.amazonaws.com`` (for trust and resource
    policies). ``resource`` is an ARN or ``"*"``. ``context`` holds condition keys (any case);
    keys the engine can derive (``aws:PrincipalArn``, ``aws:PrincipalAccount``,
    ``aws:PrincipalOrgID``, ``aws:PrincipalOrgPaths``, ``aws:ResourceAccount``,
    ``aws:PrincipalType``, ``aws:PrincipalTag/*``, ``aws:username``...) are filled in unless
    given. ``session_policy`` is the inline policy passed when the session was created.
    """

    principal: str
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    session_policy: dict[str, Any] | None = None


def _principal_keys(
    world: World, caller: Caller, entry: PrincipalEntry | None
) -> dict[str, tuple[str, ...]]:
    keys: dict[str, tuple[str, ...]] = {
        "aws:principaltype": (caller.principal_type,),
        "aws:principalisawsservice": ("true" if caller.is_service else "false",),
    }
    if caller.is_service:
        keys["aws:principalservicename"] = (caller.arn,)
        return keys
    keys["aws:principalarn"] = (caller.arn,)
    if caller.account:
        keys["aws:principalaccount"] = (caller.account,)
        path = world.ou_path(caller.account)
        if path is not None and world.org_id is not None:
            keys["aws:principalorgid"] = (world.org_id,)
            keys["aws:principalorgpaths"] = (path,)
    if caller.kind == KIND_USER and caller.name:
        keys["aws:username"] = (caller.name,)
    if entry is not None:
        for tag, value in entry.tags.items():
            keys[f"aws:principaltag/{tag.lower()}"] = (value,)
    return keys


def _scp_levels(world: World, caller: Caller, entry: PrincipalEntry | None) -> tuple[ScpLevel, ...]:
    if caller.is_service or caller.account is None or (entry and entry.service_linked):
        return ()
    return world.scp_levels(caller.account) or ()


def _first_deny(
    policies: tuple[Policy, ...], action: str, resource: str, ctx: RequestContext
) -> tuple[Policy | None, Statement | None, Policy | None, Statement | None]:
    """(denying policy, statement, allowing policy, statement) over ``policies``."""
    allow_policy: Policy | None = None
    allow_statement: Statement | None = None
    for policy in policies:
        outcome = policy.evaluate(action, resource, ctx)
        if outcome.deny is not None:
            return policy, outcome.deny, None, None
        if outcome.allow is not None and allow_policy is None:
            allow_policy, allow_statement = policy, outcome.allow
    return None, None, allow_policy, allow_statement


def _requires_resource_policy(action: str, resource: str, rp: ResourcePolicy | None) -> bool:
    """Trust policies and KMS key policies must allow even within the account."""
    if rp is not None and rp.trust:
        return True
    parsed = try_parse_arn(resource)
    if parsed is None:
        return False
    if parsed.service == "kms":
        return True
    return parsed.service == "iam" and parsed.resource_type == "role" and action.startswith("sts:")


def evaluate(world: World, request: Request) -> Decision:
    """Decide ``request`` against ``world``; see the module docstring for the logic.

    Raises :class:`RequestError` when the principal cannot be understood or the session
    policy is malformed.
    """
    who, action, resource = request.principal, request.action, request.resource
    caller = world.caller(who)
    entry = world.principal(caller.arn) if caller.kind in (KIND_ROLE, KIND_USER) else None
    action_l = action.lower()
    resource_n = normalize_arn(resource)
    rp: ResourcePolicy | None = None
    resource_account: str | None = None
    if resource != "*":
        rp = world.resource_policy_for(resource, action)
        resource_account = rp.account if rp else world.account_of(resource)

    memo_key = (who, resource_account)
    defaults = world.memo.get(memo_key)
    if defaults is None:
        defaults = _principal_keys(world, caller, entry)
        if resource_account:
            defaults["aws:resourceaccount"] = (resource_account,)
        if len(world.memo) < 65536:
            world.memo[memo_key] = defaults
    ctx = RequestContext.build(request.context, defaults)

    session: Policy | None = None
    if request.session_policy is not None:
        try:
            session = parse_policy(request.session_policy, "SessionPolicy")
        except PolicyValidationError as exc:
            raise RequestError(f"session policy: {exc}") from None
    boundary = entry.boundary if entry else None

    def deny(layer: Layer, policy: Policy, statement: Statement | None) -> Decision:
        sid = statement.sid if statement is not None else None
        return _d.explicit_deny(who, action, resource, layer, policy.name, sid)

    def implicit(layer: Layer) -> Decision:
        return _d.implicit_deny(who, action, resource, layer)

    # 1. Explicit denies, and the allows each layer offers.
    scp_gap = False
    for level in _scp_levels(world, caller, entry):
        denied, statement, allowing, _ = _first_deny(level.policies, action_l, resource_n, ctx)
        if denied is not None:
            return deny("scp", denied, statement)
        scp_gap = scp_gap or allowing is None

    grant, rp_statement = GRANT_NONE, None
    if rp is not None:
        outcome = rp.policy.evaluate(action_l, resource_n, ctx, caller, boundary is not None)
        if outcome.deny is not None:
            return deny("resource", rp.policy, outcome.deny)
        grant, rp_statement = outcome.grant, outcome.allow

    id_policy, id_statement = None, None
    if entry is not None:
        denied, statement, id_policy, id_statement = _first_deny(
            entry.policies, action_l, resource_n, ctx
        )
        if denied is not None:
            return deny("identity", denied, statement)
    identity_ok = caller.kind == KIND_ROOT or id_policy is not None

    bounded = True
    if boundary is not None:
        denied, statement, allowing, _ = _first_deny((boundary,), action_l, resource_n, ctx)
        if denied is not None:
            return deny("boundary", denied, statement)
        bounded = allowing is not None
    in_session = True
    if session is not None:
        denied, statement, allowing, _ = _first_deny((session,), action_l, resource_n, ctx)
        if denied is not None:
            return deny("session", denied, statement)
        in_session = allowing is not None

    # 2. SCPs must allow at every level.
    if scp_gap:
        return implicit("scp")

    def by_resource() -> Decision:
        assert rp is not None
        sid = rp_statement.sid if rp_statement is not None else None
        return _d.allowed(who, action, resource, "resource", rp.name, sid)

    # 3. Service principals: the resource policy decides alone.
    if caller.is_service:
        return by_resource() if grant != GRANT_NONE else implicit("resource")

    def identity_side() -> Decision | None:
        if not identity_ok:
            return implicit("identity")
        if not bounded:
            return implicit("boundary")
        if not in_session:
            return implicit("session")
        return None

    # 4. Cross-account: both sides.
    if resource_account is not None and resource_account != caller.account:
        blocked = identity_side()
        if blocked is not None:
            return blocked
        return by_resource() if grant != GRANT_NONE else implicit("resource")

    # 5. Same account.
    if grant == GRANT_DIRECT:
        return by_resource()
    if grant == GRANT_ROLE:
        if not bounded:
            return implicit("boundary")
        if not in_session:
            return implicit("session")
        return by_resource()
    if grant == GRANT_NONE and _requires_resource_policy(action_l, resource_n, rp):
        return implicit("resource")
    blocked = identity_side()
    if blocked is not None:
        return blocked
    if caller.kind == KIND_ROOT and id_policy is None:
        return _d.allowed(who, action, resource, "identity", None, None)
    assert id_policy is not None
    sid = id_statement.sid if id_statement is not None else None
    return _d.allowed(who, action, resource, "identity", id_policy.name, sid)
