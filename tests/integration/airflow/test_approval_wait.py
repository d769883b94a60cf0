"""The approval wait against localcloud: trigger round-trip, approved and rejected outcomes,
passing errors waited out (throttling, an expired session), other errors raised, the timeout
(through the trigger and through promote_<model>), settings from the environment."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from hubspoke.config import load_config
from hubspoke.operators.approval import (
    ApprovalTimeoutError,
    PackageRejectedError,
    WaitForApprovalOperator,
)
from hubspoke.triggers.approval import ModelPackageApprovalTrigger
from localcloud.server import LocalCloud

ROOT = Path(__file__).resolve().parents[3]
ACCOUNTS = load_config().accounts


def test_trigger_serialises_primitives_only() -> None:
    trigger = ModelPackageApprovalTrigger(
        "arn:aws:sagemaker:us-east-1:111111111111:model-package/m/1",
        poll_interval=2,
        deadline=time.time() + 60,
    )
    path, kwargs = trigger.serialize()
    assert path == "hubspoke.triggers.approval.ModelPackageApprovalTrigger"
    rebuilt = ModelPackageApprovalTrigger(**kwargs)
    assert rebuilt.serialize() == (path, kwargs)
    assert all(isinstance(v, str | int | float | type(None)) for v in kwargs.values())


def test_operator_templates_the_package() -> None:
    assert "package_arn" in WaitForApprovalOperator.template_fields


def test_poll_interval_and_timeout_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HUBSPOKE_APPROVAL_POLL_SECONDS", raising=False)
    monkeypatch.delenv("HUBSPOKE_APPROVAL_TIMEOUT_HOURS", raising=False)
    default = WaitForApprovalOperator(task_id="wait", package_arn="arn")
    assert default.poll_interval == 30.0
    assert default.wait_timeout == timedelta(days=7)
    monkeypatch.setenv("HUBSPOKE_APPROVAL_POLL_SECONDS", "2")
    monkeypatch.setenv("HUBSPOKE_APPROVAL_TIMEOUT_HOURS", "0.5")
    local = WaitForApprovalOperator(task_id="wait", package_arn="arn")
    assert local.poll_interval == 2.0
    assert local.wait_timeout == timedelta(minutes=30)
    given = WaitForApprovalOperator(
        task_id="wait", package_arn="arn", poll_interval=5, wait_timeout=timedelta(hours=1)
    )
    assert (given.poll_interval, given.wait_timeout) == (5, timedelta(hours=1))
    monkeypatch.setenv("HUBSPOKE_APPROVAL_POLL_SECONDS", "often")
    with pytest.raises(ValueError, match="HUBSPOKE_APPROVAL_POLL_SECONDS must be a positive"):
        WaitForApprovalOperator(task_id="wait", package_arn="arn")


def _register(localcloud: LocalCloud) -> str:
    orchestrator = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "wait-test")
    created = localcloud.client("sagemaker", orchestrator).create_model_package(
        ModelPackageGroupName="breast-cancer",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "sklearn", "ModelDataUrl": "s3://x/models/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )
    return str(created["ModelPackageArn"])


def _decide_later(localcloud: LocalCloud, arn: str, status: str, reason: str) -> threading.Thread:
    approver = localcloud.credentials.issue_role_session(ACCOUNTS.approver_arn, "person")
    client = localcloud.client("sagemaker", approver)

    def decide() -> None:
        time.sleep(1.0)
        client.update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=reason
        )

    thread = threading.Thread(target=decide)
    thread.start()
    return thread


async def _first_event(trigger: ModelPackageApprovalTrigger) -> dict[str, object]:
    async for event in trigger.run():
        return dict(event.payload)
    raise AssertionError("the trigger ended without an event")


@pytest.mark.usefixtures("airflow_as_orchestrator")
def test_trigger_fires_on_approval(localcloud: LocalCloud) -> None:
    arn = _register(localcloud)
    thread = _decide_later(localcloud, arn, "Approved", "looks good")
    event = asyncio.run(
        asyncio.wait_for(_first_event(ModelPackageApprovalTrigger(arn, poll_interval=0.2)), 30)
    )
    thread.join()
    assert event["status"] == "approved" and event["package_arn"] == arn
    assert event["description"] == "looks good"


@pytest.mark.usefixtures("airflow_as_orchestrator")
def test_rejection_fails_fast_with_the_reason(localcloud: LocalCloud) -> None:
    arn = _register(localcloud)
    thread = _decide_later(localcloud, arn, "Rejected", "recall regressed on the holdout")
    event = asyncio.run(
        asyncio.wait_for(_first_event(ModelPackageApprovalTrigger(arn, poll_interval=0.2)), 30)
    )
    thread.join()
    operator = WaitForApprovalOperator(task_id="wait", package_arn=arn)
    with pytest.raises(PackageRejectedError, match="was rejected: recall regressed on the holdout"):
        operator.execute_complete({}, event)  # type: ignore[arg-type]


# --- passing errors, other errors, the timeout -----------------------------------------------


class _Throttled:
    """The real async client of the hub connection, whose first ``throttled`` calls of
    DescribeModelPackage are answered as AWS answers a caller over its rate."""

    def __init__(self, manager: Any, remaining: list[int]) -> None:
        self._manager = manager
        self._remaining = remaining

    async def __aenter__(self) -> _Throttled:
        self._client = await self._manager.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._manager.__aexit__(*exc)

    async def describe_model_package(self, **kwargs: Any) -> dict[str, Any]:
        if self._remaining[0] > 0:
            self._remaining[0] -= 1
            raise ClientError(
                {
                    "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "DescribeModelPackage",
            )
        return dict(await self._client.describe_model_package(**kwargs))


@pytest.mark.usefixtures("airflow_as_orchestrator")
def test_throttling_is_waited_out(
    localcloud: LocalCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = _register(localcloud)
    remaining = [3]

    class ThrottledTrigger(ModelPackageApprovalTrigger):
        async def _client(self) -> Any:
            return _Throttled(await super()._client(), remaining)

    thread = _decide_later(localcloud, arn, "Approved", "after the storm")
    trigger = ThrottledTrigger(arn, poll_interval=0.2)
    event = asyncio.run(asyncio.wait_for(_first_event(trigger), 60))
    thread.join()
    assert remaining == [0]
    assert event["status"] == "approved" and event["description"] == "after the storm"
    warnings = [line for line in capsys.readouterr().out.splitlines() if "Throttling" in line]
    assert len(warnings) == 3, warnings
    assert f"{arn}: ThrottlingException: Rate exceeded (a passing error, 1 in a row)" in warnings[0]


@pytest.mark.usefixtures("airflow_as_orchestrator")
def test_an_expired_session_is_replaced_by_a_fresh_one(
    localcloud: LocalCloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Airflow's credentials expire while the trigger waits; once fresh ones are there (as
    MWAA's execution role or `make up`'s credential_process provides them), the next client
    uses them and the wait goes on."""
    arn = _register(localcloud)
    expired = localcloud.credentials.issue_role_session(
        ACCOUNTS.orchestrator_arn, "airflow", duration=timedelta(seconds=-1)
    )
    fresh = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "airflow")
    for name, value in localcloud.session_env(expired).items():
        if name != "AWS_ENDPOINT_URL":
            monkeypatch.setenv(name, value)

    async def scenario() -> dict[str, object]:
        waiting = asyncio.ensure_future(
            _first_event(ModelPackageApprovalTrigger(arn, poll_interval=0.2))
        )
        await asyncio.sleep(1.5)
        assert not waiting.done()
        for name, value in localcloud.session_env(fresh).items():
            if name != "AWS_ENDPOINT_URL":
                monkeypatch.setenv(name, value)
        await asyncio.to_thread(
            lambda: _decide_later(localcloud, arn, "Approved", "fresh eyes").join()
        )
        return await asyncio.wait_for(waiting, 30)

    event = asyncio.run(scenario())
    assert event["status"] == "approved" and event["description"] == "fresh eyes"
    logged = [line for line in capsys.readouterr().out.splitlines() if "ExpiredToken" in line]
    assert logged and "The security token included in the request is expired" in logged[0]


@pytest.mark.usefixtures("airflow_as_orchestrator")
def test_an_error_that_will_not_pass_ends_the_wait() -> None:
    missing = f"arn:aws:sagemaker:us-east-1:{ACCOUNTS.account_id('hub')}:model-package/nope/9"
    with pytest.raises(ClientError) as raised:
        asyncio.run(
            asyncio.wait_for(
                _first_event(ModelPackageApprovalTrigger(missing, poll_interval=0.2)), 30
            )
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.usefixtures("airflow_as_orchestrator")
def test_the_trigger_gives_up_at_its_deadline(localcloud: LocalCloud) -> None:
    arn = _register(localcloud)
    started = time.monotonic()
    trigger = ModelPackageApprovalTrigger(arn, poll_interval=0.2, deadline=time.time() + 1.0)
    event = asyncio.run(asyncio.wait_for(_first_event(trigger), 30))
    assert event["status"] == "timeout" and event["package_arn"] == arn
    assert 0.9 < time.monotonic() - started < 5
    operator = WaitForApprovalOperator(
        task_id="wait", package_arn=arn, wait_timeout=timedelta(hours=36)
    )
    with pytest.raises(ApprovalTimeoutError) as raised:
        operator.execute_complete({}, event)  # type: ignore[arg-type]
    message = str(raised.value)
    assert message.startswith(f"{arn} was neither approved nor rejected within 36 h")
    assert f"hubspoke approve|reject {arn} --reason TEXT" in message
    assert f"package_arn={arn}" in message and "HUBSPOKE_APPROVAL_TIMEOUT_HOURS" in message


@pytest.mark.slow
@pytest.mark.usefixtures("airflow_db", "airflow_as_orchestrator")
def test_a_promotion_nobody_approves_fails_after_the_timeout(
    localcloud: LocalCloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """promote_<model> on a version left pending: the wait fails once, after
    $HUBSPOKE_APPROVAL_TIMEOUT_HOURS, without retries, and nothing after it runs."""
    from airflow.dag_processing.dagbag import DagBag

    arn = _register(localcloud)
    monkeypatch.setenv("HUBSPOKE_APPROVAL_TIMEOUT_HOURS", "0.001")  # 3.6 s
    monkeypatch.setenv("HUBSPOKE_APPROVAL_POLL_SECONDS", "0.5")
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}, bag.import_errors
    dag = bag.dags["promote_breast_cancer"]
    wait = dag.get_task("wait_for_approval")
    assert wait.wait_timeout == timedelta(hours=0.001) and wait.retries >= 1

    started = time.monotonic()
    run = dag.test(run_conf={"package_arn": arn})
    elapsed = time.monotonic() - started

    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert str(run.state) == "failed"
    assert str(tis["wait_for_approval"].state) == "failed"
    assert tis["wait_for_approval"].try_number == 1  # a timeout is not retried
    assert all(
        str(ti.state) in {"upstream_failed", "None", "skipped"}
        for task_id, ti in tis.items()
        if task_id not in {"resolve", "wait_for_approval"} and "ledger" not in task_id
    ), {task_id: str(ti.state) for task_id, ti in tis.items()}
    assert elapsed < 120
    output = capsys.readouterr().out
    assert f"{arn} was neither approved nor rejected within 3.6 s" in output
