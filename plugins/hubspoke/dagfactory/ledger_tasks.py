"""Ledger writes shared by the DAGs: idempotent, so a retried task records a fact once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hubspoke.config import AccountsConfig


def record_once(
    accounts: AccountsConfig,
    model: str,
    event: str,
    *,
    actor: str,
    version: int | None,
    environment: str | None = None,
    details: dict[str, Any] | None = None,
    run_id: str,
) -> None:
    """Append ``event`` unless it would repeat a fact already on record.

    Skipped when the latest ``event`` record for ``environment`` is already about ``version``
    (a retried task, or a re-run of a finished promotion, records nothing new).
    """
    from hubspoke.aws.sessions import session_for
    from hubspoke.ledger import Ledger

    ledger = Ledger(session_for("aws_hub").client("s3"), accounts.artifacts_bucket)
    same = [r for r in ledger.records(model) if r.event == event and r.environment == environment]
    if same and same[-1].version == version:
        return
    ledger.append(
        model,
        event,
        actor=actor,
        version=version,
        environment=environment,
        details={**(details or {}), "dag_run_id": run_id},
    )
