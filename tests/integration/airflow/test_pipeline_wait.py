"""The pipeline wait against localcloud: the trigger round-trip, a failed execution reported
(not raised) and explained by its failed step, settings from the environment."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest

from hubspoke.config import load_config
from hubspoke.operators.pipeline import (
    PipelineFailedError,
    RunPipelineOperator,
    failure_message,
)
from hubspoke.triggers.pipeline import PipelineExecutionTrigger

ACCOUNTS = load_config().accounts
EXECUTION_ARN = "arn:aws:sagemaker:us-east-1:222222222222:pipeline/p/execution/abc"


def test_trigger_serialises_primitives_only() -> None:
    trigger = PipelineExecutionTrigger(EXECUTION_ARN, poll_interval=2, deadline=time.time() + 60)
    path, kwargs = trigger.serialize()
    assert path == "hubspoke.triggers.pipeline.PipelineExecutionTrigger"
    rebuilt = PipelineExecutionTrigger(**kwargs)
    assert rebuilt.serialize() == (path, kwargs)
    assert all(isinstance(v, str | int | float | type(None)) for v in kwargs.values())


def test_poll_interval_and_timeout_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HUBSPOKE_PIPELINE_POLL_SECONDS", raising=False)
    monkeypatch.delenv("HUBSPOKE_PIPELINE_TIMEOUT_HOURS", raising=False)
    default = RunPipelineOperator(task_id="train", pipeline_name="p", display_name="d")
    assert (default.poll_interval, default.wait_timeout) == (60.0, timedelta(hours=24))
    monkeypatch.setenv("HUBSPOKE_PIPELINE_POLL_SECONDS", "2")
    monkeypatch.setenv("HUBSPOKE_PIPELINE_TIMEOUT_HOURS", "72")
    local = RunPipelineOperator(task_id="train", pipeline_name="p", display_name="d")
    assert (local.poll_interval, local.wait_timeout) == (2.0, timedelta(hours=72))


@pytest.fixture(scope="module")
def dev_sagemaker(localcloud: Any) -> Any:
    """SageMaker in dev as the spoke deployer, assumed by the hub orchestrator (as Airflow
    does through the aws_dev connection)."""
    orchestrator = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "wait")
    deployer = localcloud.assume(ACCOUNTS.deployer_arn("dev"), "pipeline-wait", via=orchestrator)
    return localcloud.client("sagemaker", deployer)


async def _first_event(trigger: PipelineExecutionTrigger) -> dict[str, Any]:
    async for event in trigger.run():
        return dict(event.payload)
    raise AssertionError("the trigger ended without an event")


@pytest.mark.usefixtures("airflow_as_orchestrator")
def test_a_failed_execution_is_reported_with_its_failed_step(dev_sagemaker: Any) -> None:
    name = f"wait-test-{uuid.uuid4().hex[:8]}"
    definition = {
        "Version": "2020-12-01",
        "Steps": [
            {"Name": "Refuse", "Type": "Fail", "Arguments": {"ErrorMessage": "data too old"}}
        ],
    }
    dev_sagemaker.create_pipeline(
        PipelineName=name,
        PipelineDefinition=json.dumps(definition),
        RoleArn=ACCOUNTS.execution_role_arn("dev"),
    )
    arn = dev_sagemaker.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    trigger = PipelineExecutionTrigger(arn, poll_interval=0.2, deadline=time.time() + 60)
    event = asyncio.run(asyncio.wait_for(_first_event(trigger), 30))
    assert event == {"status": "Failed", "execution_arn": arn, "failure_reason": "data too old"}
    assert failure_message(dev_sagemaker, event) == (
        f"Pipeline execution {arn} ended Failed at step Refuse: data too old"
    )
    operator = RunPipelineOperator(
        task_id="train", pipeline_name=name, display_name="d", aws_conn_id="aws_dev"
    )
    with pytest.raises(PipelineFailedError) as raised:
        operator.execute_complete({}, event)  # type: ignore[arg-type]
    assert str(raised.value).startswith(
        f"Pipeline execution {arn} ended Failed at step Refuse: data too old. This run does not "
        "train again"
    )
