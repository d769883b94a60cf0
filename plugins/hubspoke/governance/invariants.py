"""The governance invariants of hubspoke, evaluated with :mod:`hubspoke.iam` over the World
resolved from ``infra/`` and ``config/``.

Each invariant is a named check over every relevant principal (declared roles, each account's
root, a principal outside the organization) and every role reachable from it by AssumeRole,
and returns an :class:`InvariantResult`: holds, or violated with one counterexample naming
the principal (and path), action, resource and deciding policy statement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hubspoke.governance import access_checks as access
from hubspoke.governance import guardrail_checks as guardrails
from hubspoke.governance import policy_scan
from hubspoke.governance.results import Counterexample, InvariantResult
from hubspoke.governance.scenario import Scenario

if TYPE_CHECKING:
    from hubspoke.governance.world import GovernanceModel

__all__ = [
    "INVARIANTS",
    "Counterexample",
    "Invariant",
    "InvariantResult",
    "check_model",
    "run_check",
]


@dataclass(frozen=True)
class Invariant:
    name: str
    check: Callable[[Scenario], InvariantResult]


# Order matters only for reading: isolation first, then the paths that must work, then SCPs.
INVARIANTS: tuple[Invariant, ...] = (
    Invariant("spokes-cannot-write-registry", access.spokes_cannot_write_registry),
    Invariant("only-approver-approves", access.only_approver_approves),
    Invariant("no-assume-path-out-of-spokes", access.no_assume_path_out_of_spokes),
    Invariant("only-orchestrator-assumes-deployers", access.only_orchestrator_assumes_deployers),
    Invariant(
        "serving-spokes-cannot-read-dev-bucket", access.serving_spokes_cannot_read_dev_bucket
    ),
    Invariant(
        "spokes-cannot-write-hub-bucket-or-read-ledger", access.spokes_cannot_write_hub_bucket
    ),
    Invariant("outside-org-has-no-access", access.outside_org_has_no_access),
    Invariant("serving-execution-can-load-hub-models", access.serving_execution_can_load_models),
    Invariant("orchestrator-can-orchestrate", access.orchestrator_can_orchestrate),
    Invariant("serving-deployers-can-deploy", access.spoke_deployers_can_deploy),
    Invariant("every-model-has-a-hub-group", access.every_model_has_a_hub_group),
    Invariant("no-wildcard-grants", policy_scan.no_wildcard_grants),
    Invariant("resource-policies-confined", policy_scan.resource_policies_confined),
    Invariant("hub-shares-are-read-only", policy_scan.hub_shares_are_read_only),
    Invariant("scp-denies-spoke-registry-writes", guardrails.spoke_registry_writes_denied),
    Invariant("scp-denies-leaving-org-and-stopping-cloudtrail", guardrails.no_leaving_or_blinding),
    Invariant("scp-denies-other-regions", guardrails.other_regions_denied),
    Invariant("scp-requires-kms-for-training", guardrails.training_needs_kms),
    Invariant("scp-requires-kms-for-endpoint-configs", guardrails.endpoint_configs_need_kms),
    Invariant("scp-only-deployer-creates-endpoints", guardrails.only_deployer_creates_endpoints),
)


def check_model(model: GovernanceModel) -> list[InvariantResult]:
    """Evaluate every invariant over an already built model, in :data:`INVARIANTS` order."""
    scenario = Scenario(model)
    results = []
    for invariant in INVARIANTS:
        result = invariant.check(scenario)
        if result.name != invariant.name:  # pragma: no cover - a wiring mistake
            raise AssertionError(f"{invariant.name} reported itself as {result.name}")
        results.append(result)
    return results


def run_check(infra_dir: Path, config_dir: Path) -> list[InvariantResult]:
    """Build the World from ``infra_dir`` and ``config_dir`` and evaluate every invariant.

    Raises :class:`~hubspoke.governance.cfn_errors.TemplateError` or
    :class:`~hubspoke.config.ConfigError` (one line each) when the inputs cannot be read.
    """
    from hubspoke.config import load_config
    from hubspoke.governance.world import build_model

    config = load_config(config_dir)
    return check_model(build_model(infra_dir, config))
