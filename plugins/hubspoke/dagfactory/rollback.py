"""``rollback_<model>``: put a previous good version back on an environment's endpoint."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, Param, TaskGroup, task
from airflow.sdk.exceptions import AirflowFailException

from hubspoke.dagfactory.ledger_tasks import failure_recorder, record_once, remember_failure
from hubspoke.operators.deploy import DeployToSpokeOperator

if TYPE_CHECKING:
    from hubspoke.config import AccountsConfig, ModelConfig

DOC = """
### Roll back `{name}`

Redeploys an earlier version to `{name}-<environment>` and verifies it is what is live.

- **environment**: `staging` or `prod`.
- **version**: the version to restore; `0` picks the previous good one from the ledger: the
  versions the environment served, in order (each rollback takes the versions it undid off
  that list), and the nearest one before the version live now that passed validation there.
  After v1, v2, v3 and a rollback of v3 to v2, the next default rollback restores v1.

The version must still be `Approved` in the hub registry. The endpoint is restored at once
(no canary bake, no alarm-driven auto-rollback: the rollback alarms may be in ALARM because of
the version being replaced, and would undo the restore). The ledger records `rolled_back`,
or `deployment_failed` (with the error) when the restore fails.
"""


class NothingToRestore(AirflowFailException):
    """No version the run could restore (bad input: not retried)."""


def rollback_dag(model: ModelConfig, accounts: AccountsConfig) -> DAG:
    default_args: dict[str, Any] = {
        "owner": model.owner,
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
    }
    with DAG(
        dag_id=f"rollback_{model.dag_suffix}",
        description=f"Restore a previous {model.name} version on staging or prod",
        doc_md=DOC.format(name=model.name),
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args=default_args,
        tags=["hubspoke", "rollback", model.name],
        params={
            "environment": Param(
                "prod", enum=["staging", "prod"], description="Where to roll back"
            ),
            "version": Param(
                0, type="integer", minimum=0, description="0: the previous good version"
            ),
        },
    ) as dag:

        @task(task_display_name="Choose the version")
        def choose(**context: Any) -> dict[str, Any]:
            from hubspoke.aws.sessions import session_for
            from hubspoke.ledger import Ledger, previous_good_version
            from hubspoke.registry import package_arn

            environment = context["params"]["environment"]
            hub = session_for("aws_hub")
            records = Ledger(hub.client("s3"), accounts.artifacts_bucket).records(model.name)
            live, previous = previous_good_version(records, environment)
            version = context["params"]["version"] or previous
            if not version:
                if live is None:
                    why = f"the ledger shows no {model.name} version deployed in {environment}"
                else:
                    why = (
                        f"no {model.name} version that {environment} served before v{live} "
                        "passed validation there"
                    )
                raise NothingToRestore(
                    f"nothing to roll back to: {why}; pass the version to restore"
                )
            arn = package_arn(accounts, model, version)
            status = hub.client("sagemaker").describe_model_package(ModelPackageName=arn)[
                "ModelApprovalStatus"
            ]
            if status != "Approved":
                raise NothingToRestore(
                    f"{arn} is {status}; only Approved versions can be redeployed"
                )
            return {
                "environment": environment,
                "package_arn": arn,
                "version": version,
                "from": live,
            }

        chosen = choose()

        @task.branch(task_display_name="Which environment")
        def which(target: dict[str, Any]) -> str:
            return f"{target['environment']}.deploy"

        branch = which(chosen)  # type: ignore[arg-type]
        for environment in ("staging", "prod"):
            with TaskGroup(group_id=environment):
                deploy = DeployToSpokeOperator(
                    task_id="deploy",
                    task_display_name=f"Redeploy on {environment}",
                    model=model,
                    accounts=accounts,
                    environment=environment,
                    package_arn=chosen["package_arn"],  # type: ignore[index]
                    restore=True,
                    on_failure_callback=remember_failure,
                )

                @task(task_display_name="Record rollback")
                def record(
                    deployed: dict[str, Any], target: dict[str, Any], **context: Any
                ) -> None:
                    record_once(
                        accounts,
                        model.name,
                        "rolled_back",
                        actor=accounts.orchestrator_arn,
                        version=deployed["version"],
                        environment=deployed["environment"],
                        details={
                            "from_version": target["from"],
                            "endpoint": deployed["endpoint"],
                            "config": deployed["config"],
                            "strategy": "restore",
                            "action": deployed.get("action"),
                        },
                        run_id=context["run_id"],
                    )

                branch >> deploy
                record(deploy.output, chosen)  # type: ignore[arg-type]
                failure_recorder(accounts, model, environment, [deploy], "choose")
    return dag
