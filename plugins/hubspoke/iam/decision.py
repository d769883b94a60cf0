"""The result of an evaluation, with a message worded like AWS's AccessDenied errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Decision", "DecisionKind", "Layer", "allowed", "explicit_deny", "implicit_deny"]

DecisionKind = Literal["allowed", "explicit_deny", "implicit_deny"]
Layer = Literal["scp", "identity", "resource", "boundary", "session"]

# How AWS names each policy type, with the article its messages use.
_ARTICLE_NAME: dict[str, tuple[str, str]] = {
    "scp": ("a", "service control policy"),
    "identity": ("an", "identity-based policy"),
    "resource": ("a", "resource-based policy"),
    "boundary": ("a", "permissions boundary"),
    "session": ("a", "session policy"),
}


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request is allowed, and why.

    ``denied_by`` names the policy type that decided a denial; ``policy`` and ``sid`` name
    the deciding policy and statement when one exists (the denying statement for an explicit
    deny, the granting statement for an allow, None for an implicit deny).
    """

    allowed: bool
    kind: DecisionKind
    denied_by: Layer | None
    policy: str | None
    sid: str | None
    message: str


def _head(principal: str, action: str, resource: str) -> str:
    return f"User: {principal} is not authorized to perform: {action} on resource: {resource}"


def allowed(
    principal: str, action: str, resource: str, layer: Layer, policy: str | None, sid: str | None
) -> Decision:
    """An allow granted by ``policy`` (a ``layer`` policy), statement ``sid``."""
    granted = _ARTICLE_NAME[layer][1]
    source = f" by {granted} {policy}" if policy else ""
    statement = f" (statement {sid})" if sid else ""
    message = (
        f"User: {principal} is authorized to perform: {action} on resource: {resource}"
        f"{source}{statement}"
    )
    return Decision(True, "allowed", None, policy, sid, message)


def explicit_deny(
    principal: str, action: str, resource: str, layer: Layer, policy: str, sid: str | None
) -> Decision:
    """A Deny statement in ``policy`` applies to the request."""
    article, name = _ARTICLE_NAME[layer]
    message = f"{_head(principal, action, resource)} with an explicit deny in {article} {name}"
    return Decision(False, "explicit_deny", layer, policy, sid, message)


def implicit_deny(principal: str, action: str, resource: str, layer: Layer) -> Decision:
    """No ``layer`` policy allows the request, and that layer was required to."""
    name = _ARTICLE_NAME[layer][1]
    message = f"{_head(principal, action, resource)} because no {name} allows the {action} action"
    return Decision(False, "implicit_deny", layer, None, None, message)
