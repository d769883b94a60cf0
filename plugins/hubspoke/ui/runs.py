"""Recent runs of a model's DAGs, from Airflow's metadata database (the API server's session)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hubspoke.config import ModelConfig

RUNS_PER_MODEL = 10
DAG_KINDS = ("retrain", "promote", "rollback")


def model_dag_ids(model: ModelConfig) -> set[str]:
    return {f"{kind}_{model.dag_suffix}" for kind in DAG_KINDS}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _value(enum: Any) -> str | None:
    return None if enum is None else str(getattr(enum, "value", enum))


def recent_runs(
    session: Session, dag_ids: Iterable[str], limit: int = RUNS_PER_MODEL
) -> list[dict[str, Any]]:
    """The newest ``limit`` runs of ``dag_ids``, newest first."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    wanted = sorted(dag_ids)
    if not wanted:
        return []
    query = (
        select(DagRun)
        .where(DagRun.dag_id.in_(wanted))
        .order_by(DagRun.run_after.desc(), DagRun.id.desc())
        .limit(limit)
    )
    return [
        {
            "dag_id": run.dag_id,
            "run_id": run.run_id,
            "state": _value(run.state),
            "run_type": _value(run.run_type),
            "triggered_by": run.triggering_user_name,
            "run_after": _iso(run.run_after),
            "start_date": _iso(run.start_date),
            "end_date": _iso(run.end_date),
            "conf": run.conf or {},
        }
        for run in session.scalars(query)
    ]
