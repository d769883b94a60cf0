"""Where moto's own partial access checks would contradict localcloud's engine.

moto evaluates bucket policies itself, ignoring principals and conditions, so a statement
such as "deny ledger/ to principals outside the hub account" denies everyone, the hub
included. localcloud evaluates every request with ``hubspoke.iam`` before moto sees it;
moto's check is switched off so the one evaluation that decides is the faithful one.
"""

from __future__ import annotations

from typing import Any

from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket

_applied = False


def _neutral(self: FakeBucket, action: str, resource: str) -> Any:
    return PermissionResult.NEUTRAL


def apply() -> None:
    """Idempotent; called when a LocalCloud is created."""
    global _applied
    if not _applied:
        FakeBucket.get_permission = _neutral  # type: ignore[method-assign]
        _applied = True
