"""Jobs stay inside their own directory and run only as roles that trust SageMaker, over HTTP.

An S3 key below a job's input prefix that climbs out with ``..`` fails the job naming the key,
and nothing is written outside the job; a symlink the script leaves in an output directory
that points outside the job fails the job before anything is uploaded. CreateProcessingJob and
CreateTrainingJob are refused, as SageMaker refuses them, when the role's trust policy does not
let ``sagemaker.amazonaws.com`` assume it for the caller's account.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from localcloud.credentials import Session
    from localcloud.server import LocalCloud

DEV = "222222222222"
STAGING = "333333333333"
BUCKET = f"hubspoke-dev-{DEV}"
EXECUTION_ROLE = f"arn:aws:iam::{DEV}:role/hubspoke-sagemaker-execution"
DEPLOYER = f"arn:aws:iam::{DEV}:role/hubspoke-spoke-deployer"
KEY = "alias/hubspoke-spoke"
CODE = "/opt/ml/processing/input/code"
OUTPUT = "/opt/ml/processing/output"


def _unique(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def dev_root(localcloud: LocalCloud) -> Session:
    return localcloud.root_session(DEV)


@pytest.fixture(scope="module")
def spoke_key(localcloud: LocalCloud, dev_root: Session) -> str:
    """The dev spoke key's ARN (outputs are encrypted with it, as the SCPs require)."""
    kms = localcloud.client("kms", dev_root)
    return str(kms.describe_key(KeyId=KEY)["KeyMetadata"]["Arn"])


def _processing_job(
    sm: Any,
    name: str,
    code_prefix: str,
    *,
    role: str = EXECUTION_ROLE,
    arguments: list[str] | None = None,
    output_uri: str | None = None,
    output_key: str = KEY,
) -> None:
    outputs = []
    if output_uri is not None:
        outputs = [
            {
                "OutputName": "result",
                "S3Output": {"S3Uri": output_uri, "LocalPath": OUTPUT, "S3UploadMode": "EndOfJob"},
            }
        ]
    app: dict[str, Any] = {
        "ImageUri": "local",
        "ContainerEntrypoint": ["python3", f"{CODE}/job.py"],
    }
    if arguments:
        app["ContainerArguments"] = arguments
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=role,
        AppSpecification=app,
        ProcessingInputs=[
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/{code_prefix}/",
                    "LocalPath": CODE,
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        ProcessingOutputConfig={"Outputs": outputs, "KmsKeyId": output_key},
        ProcessingResources={
            "ClusterConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
                "VolumeKmsKeyId": KEY,
            }
        },
    )


def _finished(sm: Any, name: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sm.describe_processing_job(ProcessingJobName=name)
        if described["ProcessingJobStatus"] not in {"InProgress", "Stopping"}:
            return described
        assert time.monotonic() < deadline, described
        time.sleep(0.1)


def test_an_input_key_that_climbs_out_of_the_prefix_fails_the_job_naming_it(
    localcloud: LocalCloud, dev_root: Session, tmp_path: Path
) -> None:
    s3, sm = localcloud.client("s3", dev_root), localcloud.client("sagemaker", dev_root)
    prefix = _unique("containment/code")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/job.py", Body=b"print('ran')\n")
    # S3 keeps the key as it is; joined onto the job's input dir it would land in tmp_path.
    escaping = f"{prefix}/{'../' * 40}{str(tmp_path).lstrip('/')}/escaped.txt"
    s3.put_object(Bucket=BUCKET, Key=escaping, Body=b"outside the job\n")
    name = _unique("climb")
    _processing_job(sm, name, prefix)
    described = _finished(sm, name)
    assert described["ProcessingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("ClientError: cannot download ")
    assert f"s3://{BUCKET}/{escaping}" in reason
    assert "leads outside the local directory" in reason
    assert not (tmp_path / "escaped.txt").exists()
    assert list(tmp_path.iterdir()) == []


def test_dot_dot_segments_that_stay_inside_the_input_are_downloaded(
    localcloud: LocalCloud, dev_root: Session
) -> None:
    s3, sm = localcloud.client("s3", dev_root), localcloud.client("sagemaker", dev_root)
    prefix = _unique("containment/code")
    script = (
        "import pathlib, sys\n"
        f"assert pathlib.Path('{CODE}'.replace('/opt/ml', sys.argv[1])).joinpath('b.txt')"
        ".read_text() == 'inside', 'b.txt missing'\n"
    )
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/job.py", Body=script.encode())
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/a/../b.txt", Body=b"inside")
    name = _unique("inside")
    _processing_job(sm, name, prefix, arguments=["/opt/ml"])
    described = _finished(sm, name)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")


def test_an_output_symlink_to_a_host_file_fails_the_job_and_uploads_nothing(
    localcloud: LocalCloud, dev_root: Session, spoke_key: str, tmp_path: Path
) -> None:
    s3, sm = localcloud.client("s3", dev_root), localcloud.client("sagemaker", dev_root)
    secret = tmp_path / "host-secret.txt"
    secret.write_text("a file of the machine localcloud runs on\n")
    prefix = _unique("containment/code")
    script = (
        "import os, sys\n"
        "out, target = sys.argv[1], sys.argv[2]\n"
        "open(os.path.join(out, 'result.txt'), 'w').write('fine')\n"
        "os.symlink(target, os.path.join(out, 'leak.txt'))\n"
    )
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/job.py", Body=script.encode())
    output_prefix = _unique("containment/out")
    name = _unique("leak")
    _processing_job(
        sm,
        name,
        prefix,
        arguments=[OUTPUT, str(secret)],
        output_uri=f"s3://{BUCKET}/{output_prefix}",
        output_key=spoke_key,
    )
    described = _finished(sm, name)
    assert described["ProcessingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "output result: 'leak.txt' is a symbolic link to a path outside the job's" in reason
    assert str(secret) not in reason
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=output_prefix)
    assert listed.get("KeyCount", 0) == 0


def test_an_output_symlink_inside_the_job_is_uploaded_as_its_file(
    localcloud: LocalCloud, dev_root: Session, spoke_key: str
) -> None:
    s3, sm = localcloud.client("s3", dev_root), localcloud.client("sagemaker", dev_root)
    prefix = _unique("containment/code")
    script = (
        "import os, sys\n"
        "out = sys.argv[1]\n"
        "open(os.path.join(out, 'result.txt'), 'w').write('fine')\n"
        "os.symlink(os.path.join(out, 'result.txt'), os.path.join(out, 'alias.txt'))\n"
    )
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/job.py", Body=script.encode())
    output_prefix = _unique("containment/out")
    name = _unique("alias")
    _processing_job(
        sm,
        name,
        prefix,
        arguments=[OUTPUT],
        output_uri=f"s3://{BUCKET}/{output_prefix}",
        output_key=spoke_key,
    )
    described = _finished(sm, name)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    for key in ("result.txt", "alias.txt"):
        body = s3.get_object(Bucket=BUCKET, Key=f"{output_prefix}/{key}")["Body"].read()
        assert body == b"fine"


# --- the roles SageMaker assumes --------------------------------------------------------------


def _cannot_assume(role: str) -> str:
    return (
        f"Could not assume role {role}. Please ensure that the role exists and allows "
        "principal 'sagemaker.amazonaws.com' to assume the role."
    )


def _role(localcloud: LocalCloud, root: Session, label: str, trust: dict[str, Any]) -> str:
    """A role of the dev account with ``trust`` as its trust policy, made by the account root
    (as an administrator would), allowed to read and write the dev bucket."""
    iam = localcloud.client("iam", root)
    name = _unique(label)
    arn = str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:*", "kms:*", "logs:*"], "Resource": "*"},
        ],
    }
    iam.put_role_policy(RoleName=name, PolicyName="data", PolicyDocument=json.dumps(policy))
    return arn


def _sagemaker_trust(condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def _refused(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call()
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


def test_a_processing_job_may_not_run_as_a_role_that_does_not_trust_sagemaker(
    localcloud: LocalCloud, dev_root: Session
) -> None:
    sm = localcloud.client("sagemaker", dev_root)
    name = _unique("as-deployer")
    code, message = _refused(lambda: _processing_job(sm, name, "nowhere", role=DEPLOYER))
    assert code == "ValidationException"
    assert message == _cannot_assume(DEPLOYER)
    # Refused before anything exists: no job record, nothing ran.
    code, _ = _refused(lambda: sm.describe_processing_job(ProcessingJobName=name))
    assert code == "ValidationException"


@pytest.mark.parametrize(
    "trust",
    [
        _sagemaker_trust({"StringEquals": {"aws:SourceAccount": STAGING}}),
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
        {
            "Version": "2012-10-17",
            "Statement": [
                *_sagemaker_trust()["Statement"],
                {
                    "Effect": "Deny",
                    "Principal": {"Service": "sagemaker.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringLike": {"aws:SourceArn": "*:training-job/*"}},
                },
            ],
        },
    ],
    ids=["sagemaker-of-another-account", "another-service", "training-jobs-denied"],
)
def test_a_training_job_is_refused_when_the_trust_policy_does_not_allow_it(
    localcloud: LocalCloud, dev_root: Session, trust: dict[str, Any]
) -> None:
    role = _role(localcloud, dev_root, "trust-case", trust)
    sm = localcloud.client("sagemaker", dev_root)
    code, message = _refused(
        lambda: sm.create_training_job(
            TrainingJobName=_unique("refused"),
            RoleArn=role,
            AlgorithmSpecification={"TrainingImage": "local", "TrainingInputMode": "File"},
            OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/refused", "KmsKeyId": KEY},
            ResourceConfig={
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
                "VolumeKmsKeyId": KEY,
            },
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )
    )
    assert (code, message) == ("ValidationException", _cannot_assume(role))


def test_a_role_that_trusts_sagemaker_for_this_account_runs_the_job(
    localcloud: LocalCloud, dev_root: Session
) -> None:
    role = _role(
        localcloud,
        dev_root,
        "trusts-sagemaker",
        _sagemaker_trust({"StringEquals": {"aws:SourceAccount": DEV}}),
    )
    s3, sm = localcloud.client("s3", dev_root), localcloud.client("sagemaker", dev_root)
    prefix = _unique("containment/code")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/job.py", Body=b"print('ran')\n")
    name = _unique("trusted")
    _processing_job(sm, name, prefix, role=role)
    described = _finished(sm, name)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")


def test_the_bootstrapped_execution_roles_trust_sagemaker_of_their_account(
    localcloud: LocalCloud,
) -> None:
    from localcloud.sagemaker.jobs_api import sagemaker_may_assume

    for account in (DEV, STAGING, "444444444444"):
        role = f"arn:aws:iam::{account}:role/hubspoke-sagemaker-execution"
        source = f"arn:aws:sagemaker:us-east-1:{account}:processing-job/x"
        assert sagemaker_may_assume(
            localcloud, role, account=account, region="us-east-1", source_arn=source
        )
        other = DEV if account != DEV else STAGING
        assert not sagemaker_may_assume(
            localcloud, role, account=other, region="us-east-1", source_arn=source
        )


def test_of_two_concurrent_creates_of_one_job_name_one_runs(
    localcloud: LocalCloud, dev_root: Session
) -> None:
    s3, sm = localcloud.client("s3", dev_root), localcloud.client("sagemaker", dev_root)
    prefix = _unique("containment/code")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/job.py", Body=b"print('ran')\n")
    name = _unique("twice")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create() -> None:
        barrier.wait()
        try:
            _processing_job(sm, name, prefix)
            outcomes.append("created")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["ResourceInUse", "created"]
    assert _finished(sm, name)["ProcessingJobStatus"] == "Completed"
