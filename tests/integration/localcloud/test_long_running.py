"""A long-running localcloud forgets what it no longer needs, over HTTP.

Keys expired for longer than the grace period are dropped from the credential store as new
ones are issued (a key expired within it still hears ExpiredToken, a forgotten one that it is
unknown); finished jobs leave the runner after their retention period while Describe and Stop
still answer from the job record.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from localcloud.sagemaker.jobs_api import job_runner

if TYPE_CHECKING:
    from localcloud.credentials import Session
    from localcloud.server import LocalCloud

DEV = "222222222222"
BUCKET = f"hubspoke-dev-{DEV}"
ORCHESTRATOR = "arn:aws:iam::111111111111:role/hubspoke-orchestrator"
DEPLOYER = f"arn:aws:iam::{DEV}:role/hubspoke-spoke-deployer"
EXECUTION_ROLE = f"arn:aws:iam::{DEV}:role/hubspoke-sagemaker-execution"


def _error_code(localcloud: LocalCloud, session: Session) -> str:
    with pytest.raises(ClientError) as info:
        localcloud.client("sts", session).get_caller_identity()
    return str(info.value.response["Error"]["Code"])


def test_keys_expired_beyond_the_grace_period_are_forgotten_as_new_ones_are_issued(
    localcloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = localcloud.credentials
    store.purge()  # the count towards the next purge starts here
    monkeypatch.setattr(store, "purge_every", 5)
    grace = store.expired_grace
    long_gone = store.issue_role_session(EXECUTION_ROLE, "old", duration=-(grace + grace))
    just_expired = store.issue_role_session(EXECUTION_ROLE, "recent", duration=-grace / 2)
    assert _error_code(localcloud, long_gone) == "ExpiredToken"
    assert _error_code(localcloud, just_expired) == "ExpiredToken"

    orchestrator = store.issue_role_session(ORCHESTRATOR, "airflow")
    held = len(store)
    sessions = [localcloud.assume(DEPLOYER, f"deploy-{i}", via=orchestrator) for i in range(3)]

    assert store.get(long_gone.access_key_id) is None
    assert len(store) < held + len(sessions)
    assert _error_code(localcloud, long_gone) == "InvalidClientTokenId"
    assert _error_code(localcloud, just_expired) == "ExpiredToken"
    for session in [orchestrator, *sessions]:
        assert localcloud.client("sts", session).get_caller_identity()["Account"]


def _code_prefix(localcloud: LocalCloud, root: Session) -> str:
    prefix = f"long-running/{uuid.uuid4().hex[:8]}"
    s3 = localcloud.client("s3", root)
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/job.py", Body=b"print('done')\n")
    return prefix


def _run_job(sm: Any, name: str, prefix: str) -> str:
    key = "alias/hubspoke-spoke"
    arn = sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=EXECUTION_ROLE,
        AppSpecification={
            "ImageUri": "local",
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/job.py"],
        },
        ProcessingInputs=[
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/{prefix}/",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        ProcessingOutputConfig={"Outputs": [], "KmsKeyId": key},
        ProcessingResources={
            "ClusterConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
                "VolumeKmsKeyId": key,
            }
        },
    )["ProcessingJobArn"]
    deadline = time.monotonic() + 30
    while sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] in {
        "InProgress",
        "Stopping",
    }:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return str(arn)


def test_finished_jobs_leave_the_runner_after_their_retention_and_still_describe(
    localcloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = job_runner(localcloud)
    monkeypatch.setattr(runner, "retention", 0.5)
    root = localcloud.root_session(DEV)
    sm = localcloud.client("sagemaker", root)
    prefix = _code_prefix(localcloud, root)
    first = f"retained-{uuid.uuid4().hex[:8]}"
    first_arn = _run_job(sm, first, prefix)
    assert runner.get(first_arn) is not None  # within its retention: still tracked

    time.sleep(0.6)
    second = f"retained-{uuid.uuid4().hex[:8]}"
    second_arn = _run_job(sm, second, prefix)
    assert runner.get(first_arn) is None  # forgotten when the next job started
    assert runner.get(second_arn) is not None

    described = sm.describe_processing_job(ProcessingJobName=first)
    assert described["ProcessingJobStatus"] == "Completed"
    assert described["ProcessingJobArn"] == first_arn
    listed = sm.list_processing_jobs(NameContains=first)["ProcessingJobSummaries"]
    assert [job["ProcessingJobStatus"] for job in listed] == ["Completed"]
    for name in (first, second):  # one from the runner, one from the job record alone
        with pytest.raises(ClientError) as info:
            sm.stop_processing_job(ProcessingJobName=name)
        assert info.value.response["Error"]["Code"] == "ValidationException"
        assert info.value.response["Error"]["Message"] == (
            "The request was rejected because the processing job is in status Completed."
        )
