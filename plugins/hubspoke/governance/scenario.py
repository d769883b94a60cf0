"""Who can act, from where, with which request context: the ground the invariants stand on.

Principals considered:

* every role the templates declare (hub and each spoke);
* each account's root (``arn:aws:iam::<account>:root``), which the engine treats as holding
  every identity permission of its account: it stands for "any administrator or any other
  role someone creates in that account", so a resource or trust policy that trusts a whole
  account is tested against the worst that account can do;
* an account outside the organization (its root), optionally claiming another org id.

Requests carry the context a real call would: ``aws:SecureTransport`` true and
``aws:RequestedRegion`` the configured region; the engine adds ``aws:PrincipalArn``,
``aws:PrincipalAccount``, ``aws:PrincipalOrgID`` and ``aws:PrincipalOrgPaths``.

:meth:`Scenario.reachable` follows the AssumeRole graph transitively: a role is reachable
from a principal if the engine allows ``sts:AssumeRole`` on it, or (within one account) if the
principal may ``iam:PassRole`` it to a service that the role trusts, which then acts as it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hubspoke.config.accounts import SPOKES
from hubspoke.iam import Decision, Request, evaluate

if TYPE_CHECKING:
    from hubspoke.governance.world import GovernanceModel

OTHER_ORG_ID = "o-zzzzzzzzzz"
_OUTSIDE_CANDIDATES = ("999999999999", "999999999998", "999999999997")
_OTHER_REGIONS = ("eu-west-1", "us-west-2", "ap-southeast-2", "eu-central-1")


@dataclass(frozen=True)
class Edge:
    """One hop in the AssumeRole graph."""

    source: str
    target: str
    how: str  # "assume" or "pass to <service>"
    decision: Decision


class Scenario:
    """The model plus cached engine calls, principal sets and the AssumeRole graph."""

    def __init__(self, model: GovernanceModel) -> None:
        self.model = model
        self.world = model.world
        self.region = model.region
        self.calls = 0
        self._cache: dict[tuple[Any, ...], Decision] = {}
        self._edges: dict[str, list[Edge]] = {}
        known = set(model.accounts.values())
        self.outside_account = next(a for a in _OUTSIDE_CANDIDATES if a not in known)
        allowed = set(model.config.accounts.allowed_regions)
        self.other_region = next(r for r in _OTHER_REGIONS if r not in allowed)

    # --- engine ---

    def context(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        base: dict[str, Any] = {"aws:SecureTransport": "true", "aws:RequestedRegion": self.region}
        base.update(extra or {})
        return base

    def decide(
        self, principal: str, action: str, resource: str, extra: Mapping[str, Any] | None = None
    ) -> Decision:
        """Evaluate one request with the realistic default context plus ``extra``."""
        self.calls += 1
        context = self.context(extra)
        key = (principal, action, resource, tuple(sorted((k, str(v)) for k, v in context.items())))
        cached = self._cache.get(key)
        if cached is None:
            cached = evaluate(self.world, Request(principal, action, resource, context))
            self._cache[key] = cached
        return cached

    # --- principals ---

    def account(self, name: str) -> str:
        return self.model.accounts[name]

    @staticmethod
    def root(account: str) -> str:
        return f"arn:aws:iam::{account}:root"

    @property
    def outsider(self) -> str:
        return self.root(self.outside_account)

    def roles_in(self, account: str) -> list[str]:
        return [arn for arn, p in self.world.principals.items() if p.account == account]

    def starts_in(self, name: str) -> list[str]:
        """Every principal of account ``name``: its declared roles, then its root."""
        account = self.account(name)
        return [*self.roles_in(account), self.root(account)]

    def spoke_starts(self, spokes: Iterable[str] = SPOKES) -> list[str]:
        return [p for spoke in spokes for p in self.starts_in(spoke)]

    def all_starts(self) -> list[str]:
        names = ("management", "hub", *SPOKES)
        return [*[p for n in names for p in self.starts_in(n)], self.outsider]

    def role(self, account_name: str, kind: str) -> str:
        """The ARN config gives role ``kind`` (orchestrator, approver, spoke_deployer,
        sagemaker_execution) in account ``account_name``."""
        role_name = getattr(self.model.config.accounts.roles, kind)
        account = self.account(account_name)
        declared = self.world.find(account, "role", role_name)  # whatever its Path
        return declared.arn if declared else f"arn:aws:iam::{account}:role/{role_name}"

    def declared(self, arn: str) -> bool:
        return arn in self.world.principals

    def account_of(self, principal: str) -> str:
        return principal.split(":")[4]

    # --- the AssumeRole graph ---

    def _trusted_services(self, role: str) -> list[str]:
        doc = self.model.world_dict["principals"][role].get("trust_policy") or {}
        statements = doc.get("Statement", [])
        services: list[str] = []
        for statement in statements if isinstance(statements, list) else [statements]:
            if not isinstance(statement, dict):
                continue
            principal = statement.get("Principal")
            if statement.get("Effect") == "Allow" and isinstance(principal, dict):
                value = principal.get("Service", [])
                services.extend([value] if isinstance(value, str) else value)
        return services

    def edges(self, source: str) -> list[Edge]:
        """Roles ``source`` can become in one hop."""
        if source in self._edges:
            return self._edges[source]
        found: list[Edge] = []
        for role in self.world.principals:
            if role == source:
                continue
            decision = self.decide(source, "sts:AssumeRole", role)
            if decision.allowed:
                found.append(Edge(source, role, "assume", decision))
                continue
            if self.account_of(role) != self.account_of(source):
                continue
            for service in self._trusted_services(role):
                passed = self.decide(source, "iam:PassRole", role, {"iam:PassedToService": service})
                # The service assumes the role on behalf of the passer's account.
                on_behalf = {"aws:SourceAccount": self.account_of(source)}
                if (
                    passed.allowed
                    and self.decide(service, "sts:AssumeRole", role, on_behalf).allowed
                ):
                    found.append(Edge(source, role, f"pass to {service}", passed))
                    break
        self._edges[source] = found
        return found

    def reachable(self, start: str) -> dict[str, tuple[Edge, ...]]:
        """Every principal ``start`` can act as, with the hops that get there (start: ())."""
        paths: dict[str, tuple[Edge, ...]] = {start: ()}
        queue = deque([start])
        while queue:
            current = queue.popleft()
            for edge in self.edges(current):
                if edge.target not in paths:
                    paths[edge.target] = (*paths[current], edge)
                    queue.append(edge.target)
        return paths

    @staticmethod
    def describe_path(start: str, hops: tuple[Edge, ...]) -> str:
        text = start
        for hop in hops:
            text += f" -[{hop.how}]-> {hop.target}"
        return text
