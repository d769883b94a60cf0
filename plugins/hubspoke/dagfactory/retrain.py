"""``retrain_<model>``: train in dev, gate on the metric, register in the hub, record it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, Param, task

from hubspoke.operators.pipeline import RunPipelineOperator

if TYPE_CHECKING:
    from hubspoke.config import AccountsConfig, ModelConfig

DOC = """
### Retrain `{name}`

{description}

1. **prepare** — build the SageMaker pipeline definition (SDK v3) and upsert it in the **dev**
   spoke as `hubspoke-spoke-deployer` (connection `aws_dev`).
2. **train** — start the pipeline and wait for it without holding a worker (deferrable):
   preprocess → train → evaluate → metric condition, all in dev. A run has exactly one
   execution (display name from the run ID): a retry waits on it instead of training again,
   a failed execution fails the run at once naming the failed step, and the wait stops the
   execution after `HUBSPOKE_PIPELINE_TIMEOUT_HOURS` (default 24 h).
3. **collect** — read the trained artifact and `evaluation.json` from the execution.
4. **quality_gate** — `{metric}` must be ≥ {threshold} and no worse than the live prod
   champion by more than {max_regression}.
5. **register** — the hub orchestrator (connection `aws_hub`) copies artifact and evaluation
   into the hub bucket and registers a `PendingManualApproval` version in the `{name}` group
   with metrics and lineage; a retry never makes a second version.
6. **record** — append `registered` to the audit ledger.

Trigger by hand with *Trigger DAG w/ config* to override the data URI or hyperparameters; to
train again after a failed execution, trigger a new run.
"""

# RunPipelineOperator turns this into a valid SageMaker display name (letters, digits and
# hyphens, at most 82 characters, with a digest of the run ID).
DISPLAY_NAME = "hubspoke-{{ run_id }}"


def retrain_dag(model: ModelConfig, accounts: AccountsConfig) -> DAG:
    default_args: dict[str, Any] = {
        "owner": model.owner,
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
    }
    with DAG(
        dag_id=f"retrain_{model.dag_suffix}",
        description=f"Retrain {model.name} in dev and register it in the hub",
        doc_md=DOC.format(
            name=model.name,
            description=model.description,
            metric=model.metric_gate.metric,
            threshold=model.metric_gate.threshold,
            max_regression=model.metric_gate.max_regression,
        ),
        schedule=model.schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args=default_args,
        tags=["hubspoke", "retrain", model.name],
        params={
            "data_uri": Param(
                model.data_uri or "",
                type="string",
                description="Input data S3 URI (empty: the pipeline's default)",
            ),
            "hyperparameters": Param(
                {}, type="object", description='Overrides, e.g. {"n_estimators": 300}'
            ),
            "reason": Param(
                "scheduled retraining",
                type="string",
                description="Why this run (recorded as lineage)",
            ),
        },
    ) as dag:

        @task(task_display_name="Upsert pipeline in dev")
        def prepare(**context: Any) -> dict[str, Any]:
            from hubspoke.aws.sessions import session_for
            from hubspoke.training import (
                build_definition,
                execution_parameters,
                spoke_key_arn,
                upsert_pipeline,
            )

            session = session_for("aws_dev")
            key = spoke_key_arn(session.client("kms"))
            definition = build_definition(model, accounts, session, key)
            outcome = upsert_pipeline(
                session.client("sagemaker"),
                model.name,
                definition,
                accounts.execution_role_arn("dev"),
            )
            params = context["params"]
            pipeline_params = execution_parameters(
                model, params.get("data_uri") or None, params.get("hyperparameters") or {}
            )
            return {"pipeline": model.name, "outcome": outcome, "pipeline_params": pipeline_params}

        prepared = prepare()
        train = RunPipelineOperator(
            task_id="train",
            task_display_name="Run pipeline in dev",
            aws_conn_id="aws_dev",
            pipeline_name=model.name,
            display_name=DISPLAY_NAME,
            pipeline_params=prepared["pipeline_params"],  # type: ignore[index]
        )
        prepared >> train

        @task(task_display_name="Collect outputs")
        def collect(execution_arn: str) -> dict[str, Any]:
            from dataclasses import asdict

            from hubspoke.aws.sessions import session_for
            from hubspoke.training import read_outputs

            session = session_for("aws_dev")
            outputs = read_outputs(session.client("sagemaker"), session.client("s3"), execution_arn)
            return asdict(outputs)

        @task(task_display_name="Quality gate")
        def quality_gate(outputs: dict[str, Any]) -> dict[str, Any]:
            from hubspoke.aws.sessions import session_for
            from hubspoke.gates import check_quality

            hub = session_for("aws_hub")
            verdict = check_quality(
                model, accounts, outputs["metrics"], hub.client("sagemaker"), hub.client("s3")
            )
            return {**outputs, "gate": verdict}

        @task(task_display_name="Register in hub")
        def register(outputs: dict[str, Any], **context: Any) -> dict[str, Any]:
            from hubspoke.aws.sessions import session_for
            from hubspoke.config import models_root
            from hubspoke.registry import Lineage, package_version, register_in_hub
            from hubspoke.revision import code_revision
            from hubspoke.training import TrainingOutputs

            hub = session_for("aws_hub")
            fields = {k: outputs[k] for k in TrainingOutputs.__dataclass_fields__}
            arn = register_in_hub(
                sagemaker=hub.client("sagemaker"),
                s3=hub.client("s3"),
                accounts=accounts,
                model=model,
                outputs=TrainingOutputs(**fields),
                lineage=Lineage(
                    git_revision=code_revision(),
                    data_uri=context["params"].get("data_uri") or "pipeline default",
                    dag_run_id=context["run_id"],
                    reason=context["params"].get("reason", ""),
                ),
                inference_script=models_root() / model.pipeline / "inference.py",
            )
            return {
                "package_arn": arn,
                "version": package_version(arn),
                "metrics": outputs["metrics"],
            }

        @task(task_display_name="Record in ledger")
        def record(registered: dict[str, Any], **context: Any) -> dict[str, Any]:
            from hubspoke.aws.sessions import session_for
            from hubspoke.ledger import Ledger

            ledger = Ledger(session_for("aws_hub").client("s3"), accounts.artifacts_bucket)
            existing = [
                r
                for r in ledger.records(model.name, registered["version"])
                if r.event == "registered"
            ]
            if not existing:  # a retried run must not record the same registration twice
                ledger.append(
                    model.name,
                    "registered",
                    actor=accounts.orchestrator_arn,
                    version=registered["version"],
                    details={
                        "package_arn": registered["package_arn"],
                        "dag_run_id": context["run_id"],
                        **registered["metrics"],
                    },
                )
            return registered

        record(register(quality_gate(collect(train.output))))  # type: ignore[arg-type]
    return dag
