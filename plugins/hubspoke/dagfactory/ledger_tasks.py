"""Ledger writes shared by the DAGs.

Writes are idempotent per DAG run: a retried task records its fact once, while a later run
records what it did again (a second promotion of a version, a second rollback to it), since
those are new facts. A registry decision is one fact however many runs see it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hubspoke.config import AccountsConfig, ModelConfig
    from hubspoke.ledger import Ledger

# The XCom key under which a failed task leaves its error for the failure recorder.
FAILURE_KEY = "failure"
NO_ERROR_KEPT = "no error message was kept; see the task's log"


def _ledger(accounts: AccountsConfig) -> Ledger:
    from hubspoke.aws.sessions import session_for
    from hubspoke.ledger import Ledger

    return Ledger(session_for("aws_hub").client("s3"), accounts.artifacts_bucket)


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
) -> bool:
    """Append ``event`` unless this DAG run (``run_id``) already recorded it for ``version``
    in ``environment`` (a retried task). True when a record was appended."""
    ledger = _ledger(accounts)
    for record in ledger.records(model, version):
        if (
            record.event == event
            and record.environment == environment
            and record.details.get("dag_run_id") == run_id
        ):
            return False
    ledger.append(
        model,
        event,
        actor=actor,
        version=version,
        environment=environment,
        details={**(details or {}), "dag_run_id": run_id},
    )
    return True


def record_registry_decision(
    accounts: AccountsConfig,
    model: str,
    event: str,
    *,
    actor: str,
    version: int,
    description: str,
    run_id: str,
) -> bool:
    """Append the registry's decision about ``version`` (``approved`` or ``rejected``) unless it
    is the latest decision on record already: same decision, approver and description. A
    promotion run after a rollback sees the approval it saw before; that is not a second one.
    True when a record was appended."""
    ledger = _ledger(accounts)
    decisions = [
        r
        for r in ledger.records(model, version)
        if r.event in {"approved", "rejected"} and r.environment is None
    ]
    if decisions:
        last = decisions[-1]
        if (last.event, last.actor, last.details.get("description", "")) == (
            event,
            actor,
            description,
        ):
            return False
    ledger.append(
        model,
        event,
        actor=actor,
        version=version,
        details={"description": description, "dag_run_id": run_id},
    )
    return True


def remember_failure(context: Any) -> None:
    """``on_failure_callback``: leave the error of the task's last try in XCom for
    :func:`failure_recorder` (Airflow keeps no error message of its own that a task can read)."""
    error = context.get("exception")
    text = f"{type(error).__name__}: {error}" if error is not None else NO_ERROR_KEPT
    context["ti"].xcom_push(key=FAILURE_KEY, value={"error": text})


def failure_recorder(
    accounts: AccountsConfig,
    model: ModelConfig,
    environment: str,
    watched: Sequence[Any],
    version_from: str,
) -> Any:
    """A ``record_failure`` task that appends ``deployment_failed`` for ``environment`` when one
    of the ``watched`` tasks (deploy, validate; give them ``on_failure_callback=
    remember_failure``) failed: which task, and its error.

    It runs on Airflow's ``one_failed`` trigger rule and skips itself when nothing it watches
    failed (an upstream failure elsewhere reached it). It never makes a failed run look
    successful: the run's other leaves still fail with the task that failed. The version is
    the ``version`` field of the XCom of task ``version_from``.
    """
    from airflow.sdk import TriggerRule, task
    from airflow.sdk.exceptions import AirflowSkipException

    # Operators, or the XComArgs of @task calls.
    task_ids = [getattr(t, "operator", t).task_id for t in watched]

    @task(
        task_id="record_failure",
        task_display_name=f"Record a failure in {environment}",
        trigger_rule=TriggerRule.ONE_FAILED,
    )
    def record_failure(**context: Any) -> dict[str, Any]:
        ti = context["ti"]
        states = ti.get_task_states(dag_id=ti.dag_id, task_ids=task_ids, run_ids=[ti.run_id])
        here = states.get(ti.run_id, {})
        failed = [t for t in task_ids if here.get(t) == "failed"]
        if not failed:
            raise AirflowSkipException(f"nothing failed in {environment}; an earlier step did")
        kept = ti.xcom_pull(task_ids=failed[0], key=FAILURE_KEY) or {}
        target = ti.xcom_pull(task_ids=version_from) or {}
        details = {"task": failed[0], "error": kept.get("error") or NO_ERROR_KEPT}
        record_once(
            accounts,
            model.name,
            "deployment_failed",
            actor=accounts.orchestrator_arn,
            version=target.get("version"),
            environment=environment,
            details=details,
            run_id=context["run_id"],
        )
        return details

    recorder = record_failure()
    for upstream in watched:
        upstream >> recorder
    return recorder
