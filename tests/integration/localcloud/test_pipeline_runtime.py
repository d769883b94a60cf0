"""Pipeline executions and jobs that really run on localcloud, over HTTP with real credentials.

The hub orchestrator assumes the dev deployer (as Airflow does), uploads the data set, builds
the breast-cancer definition with the SageMaker SDK and starts it; the steps run the real
scripts as the dev execution role.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from pipelines.breast_cancer.dataset import export_dataset

if TYPE_CHECKING:
    from localcloud.server import LocalCloud

REGION = "us-east-1"
DEV = "222222222222"
BUCKET = f"hubspoke-dev-{DEV}"
ORCHESTRATOR = "arn:aws:iam::111111111111:role/hubspoke-orchestrator"
DEPLOYER = f"arn:aws:iam::{DEV}:role/hubspoke-spoke-deployer"
EXECUTION_ROLE = f"arn:aws:iam::{DEV}:role/hubspoke-sagemaker-execution"
PIPELINE = "breast-cancer-runtime"


def _wait(sm: Any, arn: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        if described["PipelineExecutionStatus"] not in {"Executing", "Stopping"}:
            return described
        assert time.monotonic() < deadline, f"execution still {described}"
        time.sleep(0.3)


def _steps(sm: Any, arn: str) -> dict[str, dict[str, Any]]:
    listed = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)
    return {step["StepName"]: step for step in listed["PipelineExecutionSteps"]}


@pytest.fixture(scope="module")
def deployer(localcloud: LocalCloud) -> boto3.Session:
    """A boto3 session of the dev deployer, assumed from the hub orchestrator."""
    orchestrator = localcloud.credentials.issue_role_session(ORCHESTRATOR, "airflow")
    deployer = localcloud.assume(DEPLOYER, "retrain-breast-cancer", via=orchestrator)
    return localcloud.boto3_session(deployer)


@pytest.fixture(scope="module")
def sm(localcloud: LocalCloud, deployer: boto3.Session) -> Any:
    return deployer.client("sagemaker", endpoint_url=localcloud.url)


@pytest.fixture(scope="module")
def spoke_key(localcloud: LocalCloud, deployer: boto3.Session) -> str:
    kms = deployer.client("kms", endpoint_url=localcloud.url)
    return str(kms.describe_key(KeyId="alias/hubspoke-spoke")["KeyMetadata"]["Arn"])


@pytest.fixture(scope="module")
def pipeline(
    localcloud: LocalCloud,
    deployer: boto3.Session,
    sm: Any,
    spoke_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The breast-cancer pipeline, created in dev from the SDK's definition."""
    from pipelines.breast_cancer.pipeline import get_pipeline, make_pipeline_session

    data = export_dataset(tmp_path_factory.mktemp("data") / "data.csv")
    s3 = deployer.client("s3", endpoint_url=localcloud.url)
    s3.put_object(
        Bucket=BUCKET,
        Key="data/breast-cancer/data.csv",
        Body=data.read_bytes(),
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=spoke_key,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", localcloud.url)
        session = make_pipeline_session(deployer, default_bucket=BUCKET)
        built = get_pipeline(
            region=REGION,
            role_arn=EXECUTION_ROLE,
            default_bucket=BUCKET,
            pipeline_name=PIPELINE,
            kms_key_id=spoke_key,
            sagemaker_session=session,
        )
        definition = built.definition()
    sm.create_pipeline(PipelineName=PIPELINE, PipelineDefinition=definition, RoleArn=EXECUTION_ROLE)
    yield PIPELINE


@pytest.fixture(scope="module")
def succeeded(sm: Any, pipeline: str) -> tuple[str, dict[str, Any], float]:
    started = time.monotonic()
    arn = sm.start_pipeline_execution(PipelineName=pipeline)["PipelineExecutionArn"]
    return arn, _wait(sm, arn), time.monotonic() - started


def test_execution_succeeds_with_real_artifacts(
    localcloud: LocalCloud, deployer: boto3.Session, sm: Any, succeeded: Any
) -> None:
    arn, described, seconds = succeeded
    assert described["PipelineExecutionStatus"] == "Succeeded", described
    assert seconds < 60  # preprocess, train and evaluate really ran, in seconds
    steps = _steps(sm, arn)
    assert set(steps) == {"Preprocess", "Train", "Evaluate", "CheckMetric"}
    assert all(step["StepStatus"] == "Succeeded" for step in steps.values())
    assert steps["CheckMetric"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    training_arn = steps["Train"]["Metadata"]["TrainingJob"]["Arn"]
    assert ":training-job/pipelines-" in training_arn
    for name in ("Preprocess", "Evaluate"):
        assert ":processing-job/" in steps[name]["Metadata"]["ProcessingJob"]["Arn"]

    training = sm.describe_training_job(TrainingJobName=training_arn.rsplit("/", 1)[-1])
    assert training["TrainingJobStatus"] == "Completed"
    s3 = deployer.client("s3", endpoint_url=localcloud.url)
    uri = training["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, key = uri[len("s3://") :].split("/", 1)
    artifact = s3.get_object(Bucket=bucket, Key=key)
    assert artifact["ServerSideEncryption"] == "aws:kms"
    with tarfile.open(fileobj=io.BytesIO(artifact["Body"].read()), mode="r:gz") as tar:
        assert tar.getnames()

    execution_id = arn.rsplit("/", 1)[-1]
    report_key = f"breast-cancer/executions/{execution_id}/evaluation/evaluation.json"
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=report_key)["Body"].read())
    assert report["binary_classification_metrics"]["roc_auc"]["value"] > 0.98

    listed = sm.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
    assert any(s["PipelineExecutionArn"] == arn for s in listed)
    logs = localcloud.client("logs", localcloud.root_session(DEV))
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamNamePrefix=training_arn.rsplit("/", 1)[-1],
    )["logStreams"]
    assert [s["logStreamName"].split("/")[-1].startswith("algo-1-") for s in streams] == [True]


def test_metric_gate_fails_execution_with_the_metric(sm: Any, pipeline: str) -> None:
    arn = sm.start_pipeline_execution(
        PipelineName=pipeline,
        PipelineParameters=[{"Name": "MetricThreshold", "Value": "0.99999"}],
    )["PipelineExecutionArn"]
    described = _wait(sm, arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("ROC AUC 0.9") and reason.endswith("is below the threshold 0.99999")
    steps = _steps(sm, arn)
    assert steps["CheckMetric"]["Metadata"] == {"Condition": {"Outcome": "False"}}
    assert steps["MetricBelowThreshold"]["StepStatus"] == "Failed"
    assert steps["MetricBelowThreshold"]["Metadata"]["Fail"]["ErrorMessage"] == reason


def test_stop_stops_the_running_step(sm: Any, pipeline: str) -> None:
    arn = sm.start_pipeline_execution(PipelineName=pipeline)["PipelineExecutionArn"]
    deadline = time.monotonic() + 30
    while "Preprocess" not in _steps(sm, arn):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sm.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=str(uuid.uuid4()))
    described = _wait(sm, arn)
    assert described["PipelineExecutionStatus"] == "Stopped"
    steps = _steps(sm, arn)
    assert set(steps) == {"Preprocess"}
    assert steps["Preprocess"]["StepStatus"] == "Stopped"


def _direct_training_job(
    localcloud: LocalCloud, spoke_key: str, script: str, tmp_path: Path
) -> tuple[Any, str]:
    """A training job created directly, as the execution role, running ``script``."""
    session = localcloud.credentials.issue_role_session(EXECUTION_ROLE, "direct")
    s3 = localcloud.client("s3", session)
    prefix = f"direct/{uuid.uuid4().hex[:8]}"
    put = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": spoke_key}
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/code/train.py", Body=script.encode(), **put)
    source = {"entry_script": "train.py", "command": None}
    s3.put_object(
        Bucket=BUCKET, Key=f"{prefix}/code/sourcecode.json", Body=json.dumps(source), **put
    )
    sm = localcloud.client("sagemaker", session)
    name = f"direct-{uuid.uuid4().hex[:10]}"
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn=EXECUTION_ROLE,
        AlgorithmSpecification={"TrainingImage": "local", "TrainingInputMode": "File"},
        InputDataConfig=[
            {
                "ChannelName": "code",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/{prefix}/code",
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/{prefix}/out", "KmsKeyId": spoke_key},
        ResourceConfig={
            "InstanceType": "ml.m5.large",
            "InstanceCount": 1,
            "VolumeSizeInGB": 1,
            "VolumeKmsKeyId": spoke_key,
        },
        StoppingCondition={"MaxRuntimeInSeconds": 60},
        HyperParameters={"epochs": "3"},
    )
    return sm, name


def _wait_job(sm: Any, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        described: dict[str, Any] = sm.describe_training_job(TrainingJobName=name)
        if described["TrainingJobStatus"] not in {"InProgress", "Stopping"}:
            return described
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_direct_training_job_that_raises_fails_with_the_error(
    localcloud: LocalCloud, spoke_key: str, tmp_path: Path
) -> None:
    script = "raise RuntimeError('the data is not what train.py expected')\n"
    sm, name = _direct_training_job(localcloud, spoke_key, script, tmp_path)
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in {
        "InProgress",
        "Failed",
    }
    described = _wait_job(sm, name)
    assert described["TrainingJobStatus"] == "Failed"
    assert "RuntimeError: the data is not what train.py expected" in described["FailureReason"]


def test_direct_training_job_gets_hyperparameters(
    localcloud: LocalCloud, spoke_key: str, tmp_path: Path
) -> None:
    script = (
        "import os, sys\n"
        "assert sys.argv[1:] == ['--epochs', '3'], sys.argv\n"
        "open(os.path.join(os.environ['SM_MODEL_DIR'], 'model.txt'), 'w').write('ok')\n"
    )
    sm, name = _direct_training_job(localcloud, spoke_key, script, tmp_path)
    described = _wait_job(sm, name)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")


def test_job_whose_role_cannot_read_its_input_fails_with_access_denied(
    localcloud: LocalCloud, spoke_key: str
) -> None:
    session = localcloud.credentials.issue_role_session(EXECUTION_ROLE, "direct")
    sm = localcloud.client("sagemaker", session)
    name = f"denied-{uuid.uuid4().hex[:10]}"
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=EXECUTION_ROLE,
        AppSpecification={
            "ImageUri": "local",
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/x.py"],
        },
        ProcessingInputs=[
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": "s3://hubspoke-artifacts-111111111111/models/",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        ProcessingOutputConfig={"Outputs": [], "KmsKeyId": spoke_key},
        ProcessingResources={
            "ClusterConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
                "VolumeKmsKeyId": spoke_key,
            }
        },
    )
    deadline = time.monotonic() + 30
    while (described := sm.describe_processing_job(ProcessingJobName=name))[
        "ProcessingJobStatus"
    ] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert described["ProcessingJobStatus"] == "Failed"
    assert "AccessDenied" in described["FailureReason"]


# --- StartPipelineExecution's display name and ListPipelineExecutions' filters -----------------


@pytest.fixture(scope="module")
def failing_pipeline(sm: Any) -> str:
    """A pipeline whose only step is a Fail step: its executions end at once."""
    name = "display-names"
    definition = {
        "Version": "2020-12-01",
        "Steps": [{"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "by design"}}],
    }
    sm.create_pipeline(
        PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn=EXECUTION_ROLE
    )
    return name


def _error(call: Any, **kwargs: Any) -> dict[str, str]:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return dict(raised.value.response["Error"])


PATTERN = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}"


def test_localcloud_checks_the_display_name_against_the_api_model() -> None:
    import gzip

    import botocore

    from localcloud.sagemaker.pipelines_runtime import DISPLAY_NAME_MAX, DISPLAY_NAME_PATTERN

    (path,) = (Path(botocore.__file__).parent / "data" / "sagemaker").glob("*/service-2.json.gz")
    with gzip.open(path) as model:
        shape = json.load(model)["shapes"]["PipelineExecutionName"]
    assert DISPLAY_NAME_PATTERN == "^" + shape["pattern"] == PATTERN
    assert shape["max"] == DISPLAY_NAME_MAX


def test_an_invalid_display_name_is_refused_as_sagemaker_refuses_it(
    sm: Any, failing_pipeline: str
) -> None:
    before = len(
        sm.list_pipeline_executions(PipelineName=failing_pipeline)["PipelineExecutionSummaries"]
    )
    name = "hubspoke-manual__2026-12-05T02-17-09-884829-00-00"
    error = _error(
        sm.start_pipeline_execution,
        PipelineName=failing_pipeline,
        PipelineExecutionDisplayName=name,
    )
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        f"1 validation error detected: Value '{name}' at 'pipelineExecutionDisplayName' failed "
        f"to satisfy constraint: Member must satisfy regular expression pattern: {PATTERN}"
    )
    long_name = "a" * 83
    error = _error(
        sm.start_pipeline_execution,
        PipelineName=failing_pipeline,
        PipelineExecutionDisplayName=long_name,
    )
    at = f"Value '{long_name}' at 'pipelineExecutionDisplayName' failed to satisfy constraint"
    assert error["Message"] == (
        f"2 validation errors detected: {at}: Member must satisfy regular expression pattern: "
        f"{PATTERN}; {at}: Member must have length less than or equal to 82"
    )
    for bad in ("-leading", "trailing-", "under_score", "dot.ted", "spa ce"):
        assert (
            _error(
                sm.start_pipeline_execution,
                PipelineName=failing_pipeline,
                PipelineExecutionDisplayName=bad,
            )["Code"]
            == "ValidationException"
        ), bad
    after = sm.list_pipeline_executions(PipelineName=failing_pipeline)["PipelineExecutionSummaries"]
    assert len(after) == before  # nothing was started


def test_list_filters_by_creation_time_and_pages(sm: Any, failing_pipeline: str) -> None:
    arns = []
    for index in range(3):
        arns.append(
            sm.start_pipeline_execution(
                PipelineName=failing_pipeline,
                PipelineExecutionDisplayName=f"listed-{index}--{'a' * 72}",
                PipelineExecutionDescription=f"run {index}",
            )["PipelineExecutionArn"]
        )
        time.sleep(0.05)
    first = sm.describe_pipeline_execution(PipelineExecutionArn=arns[0])
    assert first["PipelineExecutionDisplayName"] == f"listed-0--{'a' * 72}"

    # Bounds between the executions' creation times (they were started 50 ms apart).
    listed = sm.list_pipeline_executions(
        PipelineName=failing_pipeline,
        CreatedAfter=first["CreationTime"] + timedelta(milliseconds=5),
    )["PipelineExecutionSummaries"]
    assert [s["PipelineExecutionArn"] for s in listed] == [arns[2], arns[1]]
    assert [s["PipelineExecutionDescription"] for s in listed] == ["run 2", "run 1"]

    second = sm.describe_pipeline_execution(PipelineExecutionArn=arns[1])
    before = sm.list_pipeline_executions(
        PipelineName=failing_pipeline,
        CreatedBefore=second["CreationTime"] - timedelta(milliseconds=5),
        SortOrder="Ascending",
    )["PipelineExecutionSummaries"]
    assert before[-1]["PipelineExecutionArn"] == arns[0]

    pages = sm.get_paginator("list_pipeline_executions").paginate(
        PipelineName=failing_pipeline,
        CreatedAfter=first["CreationTime"] - timedelta(seconds=1),
        PaginationConfig={"PageSize": 2},
    )
    sizes = [len(page["PipelineExecutionSummaries"]) for page in pages]
    assert sizes[0] == 2 and sum(sizes) >= 3
