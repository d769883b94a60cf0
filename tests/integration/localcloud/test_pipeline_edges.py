"""Pipeline executions at their edges: an execution of a deleted pipeline is answered as
SageMaker's store answers it (never an internal error), and a pipeline whose role SageMaker may
not assume does not start."""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from hubspoke.config import load_config

if TYPE_CHECKING:
    from localcloud.server import LocalCloud

ACCOUNTS = load_config().accounts
DEV = ACCOUNTS.account_id("dev")
FAIL_AT_ONCE = {
    "Version": "2020-12-01",
    "Steps": [{"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "on purpose"}}],
}


@pytest.fixture
def sagemaker(localcloud: LocalCloud) -> Any:
    # The dev account's owner: the deployer role may not delete pipelines.
    return localcloud.client("sagemaker", localcloud.root_session(DEV))


def test_describing_an_execution_of_a_deleted_pipeline(sagemaker: Any) -> None:
    name = f"gone-{uuid.uuid4().hex[:8]}"
    sagemaker.create_pipeline(
        PipelineName=name,
        PipelineDefinition=json.dumps(FAIL_AT_ONCE),
        RoleArn=ACCOUNTS.execution_role_arn("dev"),
    )
    arn = sagemaker.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    deadline = time.monotonic() + 30
    while (
        sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
        == "Executing"
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    sagemaker.delete_pipeline(PipelineName=name, ClientRequestToken=uuid.uuid4().hex)

    with pytest.raises(ClientError) as error:
        sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    assert error.value.response["Error"]["Code"] != "InternalFailure"


def test_a_pipeline_whose_role_sagemaker_may_not_assume_does_not_start(sagemaker: Any) -> None:
    name = f"untrusted-{uuid.uuid4().hex[:8]}"
    deployer = ACCOUNTS.deployer_arn("dev")  # trusted by the hub orchestrator only
    sagemaker.create_pipeline(
        PipelineName=name, PipelineDefinition=json.dumps(FAIL_AT_ONCE), RoleArn=deployer
    )
    with pytest.raises(ClientError) as error:
        sagemaker.start_pipeline_execution(PipelineName=name)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == (
        f"Could not assume role {deployer}. Please ensure that the role exists and allows "
        "principal 'sagemaker.amazonaws.com' to assume the role."
    )
    summaries = sagemaker.list_pipeline_executions(PipelineName=name)
    assert summaries["PipelineExecutionSummaries"] == []  # nothing half-started
