"""Building blocks the invariant checks share: forbid, require, require an SCP deny."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from hubspoke.governance.results import Counterexample, InvariantResult
from hubspoke.governance.scenario import Scenario

if TYPE_CHECKING:
    from hubspoke.governance.scenario import Edge
    from hubspoke.iam import Decision

# (action, resource, extra context)
Ask = tuple[str, str, Mapping[str, Any]]
NO_CONTEXT: Mapping[str, Any] = {}


def counterexample(
    start: str,
    hops: tuple[Edge, ...],
    action: str,
    resource: str,
    decision: Decision,
    extra: Mapping[str, Any] | None = None,
    note: str = "",
) -> Counterexample:
    path = Scenario.describe_path(start, hops)
    message = decision.message if not hops else f"{decision.message} (path: {path})"
    return Counterexample(
        principal=start,
        action=action,
        resource=resource,
        outcome=decision.kind,
        policy=decision.policy,
        sid=decision.sid,
        denied_by=decision.denied_by,
        via=tuple(hop.target for hop in hops),
        context=dict(extra or {}),
        message=f"{note}: {message}" if note else message,
    )


def finding(principal: str, action: str, resource: str, message: str) -> Counterexample:
    """A counterexample that is a fact about the templates rather than a request."""
    return Counterexample(principal, action, resource, "finding", message=message)


class Collector:
    """Counts what one invariant evaluated and keeps its first counterexample."""

    def __init__(self, scenario: Scenario, name: str, description: str) -> None:
        self.scenario = scenario
        self.name = name
        self.description = description
        self._start = scenario.calls
        self.extra_checked = 0
        self.first: Counterexample | None = None
        self.count = 0

    def violation(self, example: Counterexample) -> None:
        self.count += 1
        if self.first is None:
            self.first = example

    def result(self) -> InvariantResult:
        checked = self.scenario.calls - self._start + self.extra_checked
        return InvariantResult(
            self.name, self.description, self.count == 0, checked, self.first, self.count
        )

    # --- the three shapes of check ---

    def forbid(
        self,
        starts: Iterable[str],
        asks: Callable[[str], Iterable[Ask]],
        *,
        transitive: bool = True,
        exempt: Callable[[str], bool] = lambda acting: False,
    ) -> None:
        """No principal reachable from ``starts`` may be allowed any of ``asks(acting)``."""
        scenario = self.scenario
        for start in starts:
            paths = scenario.reachable(start) if transitive else {start: ()}
            for acting, hops in paths.items():
                if exempt(acting):
                    continue
                for action, resource, extra in asks(acting):
                    decision = scenario.decide(acting, action, resource, extra)
                    if decision.allowed:
                        self.violation(
                            counterexample(start, hops, action, resource, decision, extra)
                        )

    def require(
        self,
        principal: str,
        action: str,
        resource: str,
        extra: Mapping[str, Any] | None = None,
        note: str = "",
    ) -> bool:
        """``principal`` must be allowed; a refusal is a violation naming what refused."""
        if not self.present(principal):
            return False
        decision = self.scenario.decide(principal, action, resource, extra)
        if not decision.allowed:
            self.violation(counterexample(principal, (), action, resource, decision, extra, note))
        return decision.allowed

    def require_scp_deny(
        self, principal: str, action: str, resource: str, extra: Mapping[str, Any] | None = None
    ) -> None:
        """An SCP must explicitly deny the request, whatever the identity policies say."""
        decision = self.scenario.decide(principal, action, resource, extra)
        if not (decision.kind == "explicit_deny" and decision.denied_by == "scp"):
            note = "expected an explicit deny from an SCP"
            self.violation(counterexample(principal, (), action, resource, decision, extra, note))

    def present(self, principal: str) -> bool:
        """Roles an invariant relies on must be declared; account roots always exist."""
        if principal.endswith(":root") or self.scenario.declared(principal):
            return True
        self.violation(
            finding(principal, "-", "-", "role is not declared by any template in infra/")
        )
        return False
