"""``hubspoke_approval_events``: turn registry approvals into promotion runs.

Every few minutes: drain the hub's model-package event queue, reconcile with the registry
(events are best effort and may be lost or repeated), and for each model with a newly approved
version update that model's ``hubspoke-approved-<model>`` Asset with the package ARN; the
model's ``promote_<model>`` DAG is scheduled on that Asset.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, Asset, task

if TYPE_CHECKING:
    from hubspoke.config import AccountsConfig, ModelConfig


def approved_asset(model: ModelConfig) -> Asset:
    return Asset(name=f"hubspoke-approved-{model.name}", uri=f"hubspoke://approved/{model.name}")


def approval_events_dag(models: list[ModelConfig], accounts: AccountsConfig) -> DAG:
    with DAG(
        dag_id="hubspoke_approval_events",
        description="Registry approvals (events + reconciliation) to promote_<model> runs",
        doc_md=__doc__,
        schedule=timedelta(minutes=5),
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args={"owner": "ml-platform", "retries": 2, "retry_delay": timedelta(seconds=30)},
        tags=["hubspoke", "events"],
    ) as dag:

        @task(task_display_name="Collect approvals")
        def collect() -> dict[str, dict[str, Any]]:
            from dataclasses import asdict

            from hubspoke.approvals import pending_promotions
            from hubspoke.aws.sessions import session_for
            from hubspoke.ledger import Ledger

            hub = session_for("aws_hub")
            pending = pending_promotions(
                sqs=hub.client("sqs"),
                sagemaker=hub.client("sagemaker"),
                ledger=Ledger(hub.client("s3"), accounts.artifacts_bucket),
                accounts=accounts,
                models=models,
            )
            return {name: asdict(approval) for name, approval in pending.items()}

        collected = collect()
        for model in models:
            asset = approved_asset(model)

            @task.short_circuit(
                task_id=f"has_{model.dag_suffix}", task_display_name=f"{model.name} approved?"
            )
            def has_approval(pending: dict[str, Any], name: str = model.name) -> bool:
                return name in pending

            @task(
                task_id=f"announce_{model.dag_suffix}",
                outlets=[asset],
                task_display_name=f"Announce {model.name}",
            )
            def announce(
                pending: dict[str, Any],
                name: str = model.name,
                asset: Asset = asset,
                **context: Any,
            ) -> str:
                from hubspoke.dagfactory.ledger_tasks import record_once

                approval = pending[name]
                # Recorded first: the next poll skips a version already announced.
                record_once(
                    accounts,
                    name,
                    "promotion_requested",
                    actor=accounts.orchestrator_arn,
                    version=approval["version"],
                    details={"source": approval["source"], "package_arn": approval["package_arn"]},
                    run_id=context["run_id"],
                )
                # The Asset event carries the version for promote_<model> to resolve.
                context["outlet_events"][asset].extra = {
                    "package_arn": approval["package_arn"],
                    "source": approval["source"],
                }
                return str(approval["package_arn"])

            has_approval(collected) >> announce(collected)  # type: ignore[arg-type]
    return dag
