"""Governance proven from the templates: the resolved World and the invariants over it.

``build_world(infra_dir, config)`` resolves ``infra/`` for every account into the World the
policy engine (:mod:`hubspoke.iam`) evaluates; ``run_check(infra_dir, config_dir)`` evaluates
every invariant and returns one :class:`InvariantResult` each.
"""

from __future__ import annotations

from hubspoke.governance.cfn_errors import TemplateError
from hubspoke.governance.invariants import INVARIANTS, check_model, run_check
from hubspoke.governance.results import Counterexample, InvariantResult
from hubspoke.governance.world import GovernanceModel, build_model, build_world, world_to_json

__all__ = [
    "INVARIANTS",
    "Counterexample",
    "GovernanceModel",
    "InvariantResult",
    "TemplateError",
    "build_model",
    "build_world",
    "check_model",
    "run_check",
    "world_to_json",
]
