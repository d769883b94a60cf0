"""What an invariant check returns: holds or violated, with one concrete counterexample."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Counterexample:
    """One request (or one policy statement) that breaks the invariant.

    ``principal`` is where the attack or the broken path starts; ``via`` lists the role ARNs
    it reached on the way (by AssumeRole, or by passing a role to a service), the last of
    which made the request.
    ``policy``/``sid`` name the deciding statement: the granting one when something is
    allowed that must not be, the denying one (or None for an implicit deny) when something
    that must work is refused.
    """

    principal: str
    action: str
    resource: str
    outcome: str  # "allowed", "explicit_deny", "implicit_deny" or "finding"
    policy: str | None = None
    sid: str | None = None
    denied_by: str | None = None
    via: tuple[str, ...] = ()
    context: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    @property
    def acting(self) -> str:
        """The principal that made the request (the end of ``via``, else ``principal``)."""
        return self.via[-1] if self.via else self.principal

    @property
    def statement(self) -> str:
        """``policy`` and ``sid`` as one label, ``-`` when no statement decided."""
        if self.policy is None:
            return f"(no statement; {self.denied_by} implicit deny)" if self.denied_by else "-"
        return f"{self.policy}#{self.sid}" if self.sid else self.policy

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["via"] = list(self.via)
        out["statement"] = self.statement
        return out


@dataclass(frozen=True)
class InvariantResult:
    """The outcome of one invariant over the whole World."""

    name: str
    description: str
    holds: bool
    checked: int  # requests evaluated (or statements scanned)
    counterexample: Counterexample | None = None
    violations: int = 0  # how many distinct failing requests or statements were found

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "holds": self.holds,
            "checked": self.checked,
            "violations": self.violations,
            "counterexample": self.counterexample.to_dict() if self.counterexample else None,
        }
