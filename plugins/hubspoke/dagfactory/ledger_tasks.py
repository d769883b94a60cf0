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
    """Append ``event`` unless this DAG run already recorded it for this version/environment."""
    from hubspoke.aws.sessions import session_for
    from hubspoke.ledger import Ledger

    ledger = Ledger(session_for("aws_hub").client("s3"), accounts.artifacts_bucket)
    for record in ledger.records(model, version):
        if (
            record.event == event
            and record.environment == environment
            and record.details.get("dag_run_id") == run_id
        ):
            return
    ledger.append(
        model,
        event,
        actor=actor,
        version=version,
        environment=environment,
        details={**(details or {}), "dag_run_id": run_id},
    )
