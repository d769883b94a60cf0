"""``promote_<model>``: approval → staging → validation → production gate → prod → validation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, Param, TaskGroup, TriggerRule, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from hubspoke.dagfactory.approval_events import approved_asset
from hubspoke.dagfactory.ledger_tasks import (
    failure_recorder,
    record_once,
    record_registry_decision,
    remember_failure,
)
from hubspoke.operators.approval import WaitForApprovalOperator
from hubspoke.operators.deploy import DeployToSpokeOperator
from hubspoke.operators.gate import REJECTION_KEY, ProductionGateOperator, responder_name

if TYPE_CHECKING:
    from hubspoke.config import AccountsConfig, ModelConfig

DOC = """
### Promote `{name}`

1. **resolve** the version to promote: Params (package ARN or version), else the version
   announced by `hubspoke_approval_events` (which watches the registry's approval events and
   reconciles with the registry), else the latest approved version in the hub registry.
2. **wait_for_approval** — deferred until an approver (role `hubspoke-approver`) approves it in
   the registry; a rejection fails the run at once with the approver's reason.
3. **staging** — model from the hub package (shared read-only), endpoint config, create or
   update `{name}-staging`, verify it is live, then validate it against the offline
   evaluation (agreement ≥ {agreement}, p95 ≤ {p95} ms).
4. **production_gate** — {gate}.
5. **prod** — deploy to `{name}-prod` with the configured strategy
   ({strategy}, auto-rollback alarms), verify nothing was rolled back, validate.
6. Every step is recorded in the hash-chained ledger (`hubspoke ledger show {name}`): the
   registry's approval (or rejection), `deployed` as soon as an endpoint serves the version
   (with `action`: created, updated, or unchanged when it already served it), `validated`
   once validation passes, the production approval, `promoted`; and `deployment_failed`
   (which task, and its error) when a deployment or validation fails. The run still fails.
"""


class NothingToPromote(AirflowFailException):
    """The run names no version of this model that could be promoted (not retried)."""


PACKAGE_ARN_PATTERN = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:model-package/[^/]+/[0-9]+$"


# Rendered by Airflow when the gate runs: the person deciding sees the version and what
# staging measured, on the Required actions page.
GATE_SUBJECT = (
    "Promote {name} version {{{{ ti.xcom_pull(task_ids='resolve')['version'] }}}} to production?"
)
GATE_BODY = """\
{{% set staged = ti.xcom_pull(task_ids='staging.validate') %}}\
Staging endpoint `{{{{ staged['endpoint'] }}}}` is serving version {{{{ staged['version'] }}}} \
and passed validation on {{{{ staged['validation']['rows'] }}}} held-out rows:

- agreement with the offline evaluation: {{{{ '%.3f' % staged['validation']['agreement'] }}}} \
(needs ≥ {agreement})
- p95 latency: {{{{ '%.1f' % staged['validation']['p95_latency_ms'] }}}} ms (needs ≤ {p95} ms)
- error rate: {{{{ '%.3f' % staged['validation']['error_rate'] }}}}

Approve to deploy it to `{name}-prod` ({strategy}, auto-rollback on alarm).
Reject to stop here; prod keeps what it serves now.
"""


def _gate_text(model: ModelConfig) -> str:
    if model.approval.production == "manual":
        return "a person approves in the Airflow UI (*Required actions*)"
    return "automatic (config says `approval.production: auto`); recorded as such"


def promote_dag(model: ModelConfig, accounts: AccountsConfig) -> DAG:
    default_args: dict[str, Any] = {
        "owner": model.owner,
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
    }
    with DAG(
        dag_id=f"promote_{model.dag_suffix}",
        description=f"Promote an approved {model.name} version through staging to prod",
        doc_md=DOC.format(
            name=model.name,
            agreement=model.validation.min_agreement,
            p95=model.validation.p95_latency_ms,
            gate=_gate_text(model),
            strategy=model.environments.prod.deployment.type,
        ),
        # Started by hand, or by the approval of a new version (hubspoke_approval_events).
        schedule=[approved_asset(model)],
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args=default_args,
        tags=["hubspoke", "promote", model.name],
        params={
            # Both optional: leave them empty to promote the latest approved version.
            "package_arn": Param(
                None,
                type=["null", "string"],
                pattern=PACKAGE_ARN_PATTERN,
                title="Model package ARN",
                description="Hub model package ARN (arn:aws:sagemaker:REGION:HUB:"
                f"model-package/{model.name}/N); empty = latest approved",
            ),
            "version": Param(
                None,
                type=["null", "integer"],
                minimum=1,
                title="Version",
                description="Or a version number of the hub group; empty = latest approved",
            ),
        },
    ) as dag:

        @task(task_display_name="Resolve version")
        def resolve(**context: Any) -> dict[str, Any]:
            from hubspoke.aws.sessions import session_for
            from hubspoke.registry import latest_approved, package_arn, package_version

            params = context["params"]
            announced = [
                event.extra.get("package_arn")
                for events in (context.get("triggering_asset_events") or {}).values()
                for event in events
            ]
            arn = (
                params.get("package_arn")
                or (announced[-1] if announced else None)
                or (
                    package_arn(accounts, model, params["version"])
                    if params.get("version")
                    else None
                )
            )
            if not arn:
                arn = latest_approved(session_for("aws_hub").client("sagemaker"), accounts, model)
            if not arn:
                raise NothingToPromote(
                    f"no approved {model.name} version to promote; pass package_arn or version"
                )
            expected = package_arn(accounts, model, package_version(arn))
            if arn != expected:
                raise NothingToPromote(
                    f"package_arn {arn} is not a version of the hub group {model.name} "
                    f"(expected {expected.rsplit('/', 1)[0]}/N); pass a {model.name} version"
                )
            return {"package_arn": arn, "version": package_version(arn)}

        resolved = resolve()
        wait = WaitForApprovalOperator(
            task_id="wait_for_approval",
            task_display_name="Wait for registry approval",
            package_arn=resolved["package_arn"],  # type: ignore[index]
        )

        @task(task_display_name="Record approval")
        def record_approval(approval: dict[str, Any], **context: Any) -> dict[str, Any]:
            record_registry_decision(
                accounts,
                model.name,
                "approved",
                actor=approval.get("approver") or accounts.approver_arn,
                version=approval["version"],
                description=approval.get("description") or "",
                run_id=context["run_id"],
            )
            return approval

        @task(task_display_name="Record rejection", trigger_rule=TriggerRule.ONE_FAILED)
        def record_rejection(**context: Any) -> None:
            from hubspoke.aws.sessions import session_for
            from hubspoke.triggers.approval import approval_event

            ti = context["ti"]
            states = ti.get_task_states(
                dag_id=ti.dag_id, task_ids=["wait_for_approval"], run_ids=[ti.run_id]
            )
            if states.get(ti.run_id, {}).get("wait_for_approval") != "failed":
                raise AirflowSkipException("the approval wait did not fail")
            target = ti.xcom_pull(task_ids="resolve")
            described = (
                session_for("aws_hub")
                .client("sagemaker")
                .describe_model_package(ModelPackageName=target["package_arn"])
            )
            event = approval_event(described)
            if event is None or event["status"] != "rejected":
                raise AirflowSkipException(
                    f"{target['package_arn']} is {described.get('ModelApprovalStatus')}, "
                    "not rejected: the wait failed for another reason"
                )
            record_registry_decision(
                accounts,
                model.name,
                "rejected",
                actor=event.get("approver") or "unknown",
                version=target["version"],
                description=event.get("description") or "",
                run_id=context["run_id"],
            )

        approved = record_approval(wait.output)
        wait >> record_rejection()
        previous: Any = approved
        for environment in ("staging", "prod"):
            with TaskGroup(group_id=environment):
                deploy = DeployToSpokeOperator(
                    task_id="deploy",
                    task_display_name=f"Deploy to {environment}",
                    model=model,
                    accounts=accounts,
                    environment=environment,
                    package_arn=resolved["package_arn"],  # type: ignore[index]
                    on_failure_callback=remember_failure,
                )

                # Recorded as soon as the endpoint serves the version, whatever validation
                # says next: the ledger must know what is live.
                @task(task_display_name=f"Record {environment} deployment")
                def record_deployment(
                    deployed: dict[str, Any], environment: str = environment, **context: Any
                ) -> dict[str, Any]:
                    record_once(
                        accounts,
                        model.name,
                        "deployed",
                        actor=accounts.orchestrator_arn,
                        version=deployed["version"],
                        environment=environment,
                        details={
                            "endpoint": deployed["endpoint"],
                            "config": deployed["config"],
                            # created | updated | unchanged (already serving this version)
                            "action": deployed.get("action"),
                            "strategy": getattr(model.environments, environment).deployment.type,
                            "rollback_alarms": deployed.get("rollback_alarms", []),
                        },
                        run_id=context["run_id"],
                    )
                    return deployed

                @task(
                    task_display_name=f"Validate {environment}",
                    on_failure_callback=remember_failure,
                )
                def validate(
                    deployed: dict[str, Any], environment: str = environment, **context: Any
                ) -> dict[str, Any]:
                    from hubspoke.aws.sessions import session_for
                    from hubspoke.validation import validate_endpoint

                    hub = session_for("aws_hub")
                    described = hub.client("sagemaker").describe_model_package(
                        ModelPackageName=deployed["package_arn"]
                    )
                    stats = described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
                    bucket, _, key = stats.removeprefix("s3://").partition("/")
                    rows = (
                        hub.client("s3")
                        .get_object(Bucket=bucket, Key=key.rsplit("/", 1)[0] + "/predictions.csv")[
                            "Body"
                        ]
                        .read()
                    )
                    runtime = session_for(f"aws_{environment}").client("sagemaker-runtime")
                    report = validate_endpoint(
                        runtime, deployed["endpoint"], rows, model.validation
                    )
                    record_once(
                        accounts,
                        model.name,
                        "validated",
                        actor=accounts.orchestrator_arn,
                        version=deployed["version"],
                        environment=environment,
                        details=report.as_dict(),
                        run_id=context["run_id"],
                    )
                    return {**deployed, "validation": report.as_dict()}

                validated = validate(record_deployment(deploy.output))  # type: ignore[arg-type]
                failure_recorder(accounts, model, environment, [deploy, validated], "resolve")
            if environment == "prod":
                gate = _production_gate(model)

                @task(task_display_name="Record production approval")
                def record_gate(approval: Any, **context: Any) -> None:
                    chooser = "auto (config)"
                    if isinstance(approval, dict):
                        chooser = responder_name(approval)
                    version = context["ti"].xcom_pull(task_ids="resolve")["version"]
                    record_once(
                        accounts,
                        model.name,
                        "approved",
                        actor=chooser,
                        version=version,
                        environment="prod",
                        run_id=context["run_id"],
                    )

                @task(
                    task_display_name="Record production rejection",
                    trigger_rule=TriggerRule.ONE_FAILED,
                )
                def record_gate_rejection(**context: Any) -> None:
                    ti = context["ti"]
                    rejection = ti.xcom_pull(task_ids="production_gate", key=REJECTION_KEY)
                    if not rejection:
                        raise AirflowSkipException("the production gate was not rejected")
                    record_once(
                        accounts,
                        model.name,
                        "rejected",
                        actor=rejection["by"],
                        version=ti.xcom_pull(task_ids="resolve")["version"],
                        environment="prod",
                        details={"at": rejection["at"], "gate": "production"},
                        run_id=context["run_id"],
                    )

                recorded = record_gate(gate.output)
                previous >> gate
                gate >> recorded >> deploy
                gate >> record_gate_rejection()
            else:
                previous >> deploy
            previous = validated

        @task(task_display_name="Record promotion")
        def promoted(**context: Any) -> None:
            version = context["ti"].xcom_pull(task_ids="resolve")["version"]
            record_once(
                accounts,
                model.name,
                "promoted",
                actor=accounts.orchestrator_arn,
                version=version,
                environment="prod",
                run_id=context["run_id"],
            )

        previous >> promoted()
    return dag


def _production_gate(model: ModelConfig) -> Any:
    if model.approval.production == "manual":
        return ProductionGateOperator(
            task_id="production_gate",
            task_display_name="Production approval",
            subject=GATE_SUBJECT.format(name=model.name),
            body=GATE_BODY.format(
                name=model.name,
                strategy=model.environments.prod.deployment.type,
                agreement=model.validation.min_agreement,
                p95=model.validation.p95_latency_ms,
            ),
        )

    @task(task_id="production_gate", task_display_name="Production approval (auto)")
    def auto_gate() -> str:
        return "auto"

    return auto_gate()
