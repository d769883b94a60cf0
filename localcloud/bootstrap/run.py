"""One call that brings localcloud to the deployed state of ``infra/`` + ``config/``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hubspoke.config import load_config, project_root
from hubspoke.governance.world import build_model
from localcloud.bootstrap.organization import ensure_organization, ensure_scps
from localcloud.bootstrap.resources import apply_stack, check_supported

if TYPE_CHECKING:
    from localcloud.server import LocalCloud


@dataclass
class BootstrapReport:
    changes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def bootstrap(
    cloud: LocalCloud, *, infra_dir: Path | None = None, config_dir: Path | None = None
) -> BootstrapReport:
    """Create the organization, then every stack in its account, then attach the SCPs.

    Idempotent: a second run converges to the same state and reports no changes.
    """
    started = time.monotonic()
    config = load_config(config_dir)
    model = build_model(infra_dir or project_root() / "infra", config)
    cloud.known_accounts = list(dict.fromkeys([*cloud.known_accounts, *model.accounts.values()]))
    report = BootstrapReport()
    for label in ("hub", "dev", "staging", "prod"):
        check_supported(model.stacks[label])  # every stack, before the first write
    report.changes += ensure_organization(cloud, model)
    # The hub first: spoke policies name the hub's roles, bucket and key.
    for label in ("hub", "dev", "staging", "prod"):
        report.changes += [f"{label}: {c}" for c in apply_stack(cloud, model.stacks[label])]
    # SCPs last, as an organization adopting hubspoke would attach them to running accounts.
    report.changes += ensure_scps(cloud, model)
    if cloud.enforcer is not None:
        cloud.enforcer.invalidate()
    report.seconds = time.monotonic() - started
    return report
