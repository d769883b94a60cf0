"""The breast-cancer pipeline definition, built with the SageMaker SDK against an in-process moto.

Building a definition uploads the step code, so a reachable S3 is needed: moto's server runs in
a thread and every botocore client reaches it through ``AWS_ENDPOINT_URL``. The environment has
dummy credentials and no region, as on a worker that only gets them from a connection.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from hubspoke.pipeline_definition import BUILD_TIME, normalised_definition
from pipelines.breast_cancer import pipeline as bc

REGION = "us-east-1"
ACCOUNT = "222222222222"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/hubspoke-sagemaker-execution"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
IMAGE_URI = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
REPO_ROOT = Path(__file__).resolve().parents[3]

# Building needs the SDK (about 5 s to import) and about 4 s per definition.
slow = pytest.mark.slow

PREPROCESS_OUTPUT = "Steps.Preprocess.ProcessingOutputConfig.Outputs['{}'].S3Output.S3Uri"
EVALUATION_REPORT = "Steps.Evaluate.PropertyFiles.EvaluationReport"
ROC_AUC = {
    "Std:JsonGet": {
        "PropertyFile": {"Get": EVALUATION_REPORT},
        "Path": "binary_classification_metrics.roc_auc.value",
    }
}


@dataclass(frozen=True)
class Build:
    """One built pipeline: its bucket, parsed definition and S3 objects after the build."""

    bucket: str
    definition: dict[str, Any]
    keys: frozenset[str]

    def step(self, name: str) -> dict[str, Any]:
        return _steps_by_name(self.definition)[name]


def _steps_by_name(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    steps: dict[str, dict[str, Any]] = {}
    pending = list(definition["Steps"])
    while pending:
        step = pending.pop(0)
        steps[step["Name"]] = step
        if step["Type"] == "Condition":
            pending += step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]
    return steps


def _inputs(step: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["InputName"]: item["S3Input"] for item in step["Arguments"]["ProcessingInputs"]}


def _outputs(step: dict[str, Any]) -> dict[str, dict[str, Any]]:
    outputs = step["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    return {item["OutputName"]: item["S3Output"] for item in outputs}


def _channels(step: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        channel["ChannelName"]: channel["DataSource"]["S3DataSource"]
        for channel in step["Arguments"]["InputDataConfig"]
    }


def _execution_output(bucket: str, name: str) -> dict[str, Any]:
    values: list[Any] = ["s3:/", bucket, "breast-cancer", "executions"]
    values += [{"Get": "Execution.PipelineExecutionId"}, name]
    return {"Std:Join": {"On": "/", "Values": values}}


def _code_uris(definition: dict[str, Any]) -> list[str]:
    steps = _steps_by_name(definition)
    uris = [_inputs(steps[name])["code"]["S3Uri"] for name in ("Preprocess", "Evaluate")]
    uris += [_inputs(steps[name])["entrypoint"]["S3Uri"] for name in ("Preprocess", "Evaluate")]
    uris += [_channels(steps["Train"])[key]["S3Uri"] for key in ("code", "sm_drivers")]
    return uris


# Fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def aws_env(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Dummy credentials, no region, every botocore client pointed at moto."""
    missing = tmp_path_factory.mktemp("aws") / "absent"
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("AWS_"):
                patch.delenv(name)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_ENDPOINT_URL", moto_url)
        patch.setenv("AWS_CONFIG_FILE", str(missing))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(missing))
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield moto_url


def _s3() -> Any:
    return boto3.client("s3", region_name=REGION)


def _new_bucket() -> str:
    bucket = f"hubspoke-dev-{uuid.uuid4().hex[:12]}"
    _s3().create_bucket(Bucket=bucket)
    return bucket


def _keys(bucket: str) -> frozenset[str]:
    pages = _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return frozenset(item["Key"] for page in pages for item in page.get("Contents", []))


def _refuse_connection(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("get_pipeline opened a network connection")


def _build(**kwargs: Any) -> Build:
    """Build with get_pipeline (no connection allowed), then the definition (uploads the code)."""
    bucket = kwargs.pop("default_bucket", None) or _new_bucket()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse_connection)
        pipeline = bc.get_pipeline(
            region=REGION, role_arn=ROLE_ARN, default_bucket=bucket, **kwargs
        )
    definition = json.loads(pipeline.definition())
    return Build(bucket=bucket, definition=definition, keys=_keys(bucket))


@pytest.fixture(scope="module")
def built(aws_env: str) -> Build:
    """The pipeline with default arguments; the session is built by get_pipeline."""
    return _build()


@pytest.fixture(scope="module")
def built_with_kms(aws_env: str) -> Build:
    return _build(kms_key_id=KMS_KEY)


# Structure -----------------------------------------------------------------------------------


@slow
def test_steps_names_and_types(built: Build) -> None:
    top = [(step["Name"], step["Type"]) for step in built.definition["Steps"]]
    assert top == [
        ("Preprocess", "Processing"),
        ("Train", "Training"),
        ("Evaluate", "Processing"),
        ("CheckMetric", "Condition"),
    ]
    check = built.step("CheckMetric")["Arguments"]
    assert check["IfSteps"] == []
    assert [(step["Name"], step["Type"]) for step in check["ElseSteps"]] == [
        ("MetricBelowThreshold", "Fail")
    ]
    assert built.definition["PipelineExperimentConfig"] is None


@slow
def test_parameters_and_defaults(built: Build) -> None:
    parameters = {p["Name"]: (p["Type"], p["DefaultValue"]) for p in built.definition["Parameters"]}
    assert parameters == {
        "InputDataUri": ("String", f"s3://{built.bucket}/data/breast-cancer/data.csv"),
        "ProcessingInstanceType": ("String", "ml.m5.large"),
        "TrainingInstanceType": ("String", "ml.m5.large"),
        "NEstimators": ("Integer", 200),
        "MaxDepth": ("Integer", 3),
        "LearningRate": ("Float", 0.1),
        "MetricThreshold": ("Float", 0.9),
    }


@slow
def test_preprocess_step(built: Build) -> None:
    arguments = built.step("Preprocess")["Arguments"]
    assert arguments["RoleArn"] == ROLE_ARN
    assert arguments["AppSpecification"]["ImageUri"] == IMAGE_URI
    assert arguments["AppSpecification"]["ContainerArguments"] == [
        "--input-dir",
        "/opt/ml/processing/input/data",
        "--output-dir",
        "/opt/ml/processing/output",
    ]
    assert arguments["ProcessingResources"]["ClusterConfig"] == {
        "InstanceType": {"Get": "Parameters.ProcessingInstanceType"},
        "InstanceCount": 1,
        "VolumeSizeInGB": 30,
    }
    data = _inputs(built.step("Preprocess"))["data"]
    assert data["S3Uri"] == {"Get": "Parameters.InputDataUri"}
    assert data["LocalPath"] == "/opt/ml/processing/input/data"
    outputs = _outputs(built.step("Preprocess"))
    assert list(outputs) == ["train", "validation", "test"]
    for split, output in outputs.items():
        assert output["LocalPath"] == f"/opt/ml/processing/output/{split}"
        assert output["S3Uri"] == _execution_output(built.bucket, split)


@slow
def test_train_step(built: Build) -> None:
    arguments = built.step("Train")["Arguments"]
    assert arguments["RoleArn"] == ROLE_ARN
    assert arguments["AlgorithmSpecification"]["TrainingImage"] == IMAGE_URI
    channels = _channels(built.step("Train"))
    assert set(channels) == {"train", "validation", "code", "sm_drivers"}
    for split in ("train", "validation"):
        assert channels[split]["S3Uri"] == {"Get": PREPROCESS_OUTPUT.format(split)}
    assert arguments["HyperParameters"] == {
        name: {"Std:Join": {"On": "", "Values": [{"Get": f"Parameters.{parameter}"}]}}
        for name, parameter in [
            ("n-estimators", "NEstimators"),
            ("max-depth", "MaxDepth"),
            ("learning-rate", "LearningRate"),
        ]
    }
    assert arguments["ResourceConfig"] == {
        "InstanceType": {"Get": "Parameters.TrainingInstanceType"},
        "InstanceCount": 1,
        "VolumeSizeInGB": 30,
    }
    assert arguments["OutputDataConfig"] == {
        "S3OutputPath": f"s3://{built.bucket}/breast-cancer/models",
        "CompressionType": "GZIP",
    }
    assert "TrainingJobName" not in arguments


@slow
def test_evaluate_step(built: Build) -> None:
    step = built.step("Evaluate")
    arguments = step["Arguments"]
    assert arguments["AppSpecification"]["ContainerArguments"] == [
        "--model-dir",
        "/opt/ml/processing/model",
        "--test-dir",
        "/opt/ml/processing/test",
        "--output-dir",
        "/opt/ml/processing/evaluation",
    ]
    inputs = _inputs(step)
    assert inputs["model"]["S3Uri"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert inputs["model"]["LocalPath"] == "/opt/ml/processing/model"
    assert inputs["test"]["S3Uri"] == {"Get": PREPROCESS_OUTPUT.format("test")}
    assert inputs["test"]["LocalPath"] == "/opt/ml/processing/test"
    evaluation = _outputs(step)["evaluation"]
    assert evaluation["LocalPath"] == "/opt/ml/processing/evaluation"
    assert evaluation["S3Uri"] == _execution_output(built.bucket, "evaluation")
    assert step["PropertyFiles"] == [
        {
            "PropertyFileName": "EvaluationReport",
            "OutputName": "evaluation",
            "FilePath": "evaluation.json",
        }
    ]


@slow
def test_metric_gate(built: Build) -> None:
    arguments = built.step("CheckMetric")["Arguments"]
    assert arguments["Conditions"] == [
        {
            "Type": "GreaterThanOrEqualTo",
            "LeftValue": ROC_AUC,
            "RightValue": {"Get": "Parameters.MetricThreshold"},
        }
    ]
    message = built.step("MetricBelowThreshold")["Arguments"]["ErrorMessage"]
    values = message["Std:Join"]["Values"]
    assert ROC_AUC in values
    assert {"Get": "Parameters.MetricThreshold"} in values


# Code upload ---------------------------------------------------------------------------------


@slow
def test_code_is_uploaded_to_the_bucket_under_its_fingerprint(built: Build) -> None:
    prefix = f"s3://{built.bucket}/breast-cancer/code/{bc.code_fingerprint()}/"
    for uri in _code_uris(built.definition):
        assert uri.startswith(prefix), uri
        key = uri.removeprefix(f"s3://{built.bucket}/")
        assert any(stored.startswith(key) for stored in built.keys), f"nothing uploaded at {uri}"

    sources = _inputs(built.step("Preprocess"))["code"]["S3Uri"]
    bundle_key = sources.removeprefix(f"s3://{built.bucket}/") + "sourcedir.tar.gz"
    body = _s3().get_object(Bucket=built.bucket, Key=bundle_key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        shipped = set(archive.getnames())
    assert {"preprocess.py", "train.py", "evaluate.py", "inference.py"} <= shipped

    training_code = _channels(built.step("Train"))["code"]["S3Uri"]
    assert training_code.removeprefix(f"s3://{built.bucket}/") + "/train.py" in built.keys


@slow
def test_build_leaves_the_environment_alone(built: Build) -> None:
    assert "AWS_DEFAULT_REGION" not in os.environ
    assert "SAGEMAKER_VALIDATE_ROLE" not in os.environ


# Normalisation -------------------------------------------------------------------------------


@slow
def test_two_builds_normalise_equal(aws_env: str, built: Build) -> None:
    session = bc.make_pipeline_session(
        boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        ),
        default_bucket=built.bucket,
    )
    again = _build(default_bucket=built.bucket, sagemaker_session=session)

    first, second = normalised_definition(built.definition), normalised_definition(again.definition)
    assert first == second
    for uri in _code_uris(first):
        assert BUILD_TIME in uri or "/runproc.sh" in uri, uri
    assert f"-{BUILD_TIME}/" in json.dumps(first)


@slow
def test_normalised_definition_keeps_code_changes(built: Build) -> None:
    fingerprint = bc.code_fingerprint()
    changed = json.loads(json.dumps(built.definition).replace(fingerprint, "0" * len(fingerprint)))
    assert normalised_definition(changed) != normalised_definition(built.definition)


def test_normalised_definition_accepts_pipeline_string_and_dict() -> None:
    raw = {
        "Steps": [
            {
                "Name": "Train",
                "Arguments": {
                    "TrainingJobName": "breast-cancer-train-20250131120000",
                    "ProcessingJobName": "breast-cancer-evaluate-2025-01-31-12-00-00-123",
                    "S3Uri": "s3://b/p/code/ab12/breast-cancer-train-20250131120000/input/code",
                    "Other": "s3://b/p/code/ab12/job-2025-01-31-12-00-00-123/source/",
                    "Kept": "breast-cancer-train-20250131120000",
                    "Model": "s3://b/p/models",
                },
            }
        ]
    }

    class FakePipeline:
        def definition(self) -> str:
            return json.dumps(raw)

    expected = {
        "Steps": [
            {
                "Name": "Train",
                "Arguments": {
                    "TrainingJobName": f"breast-cancer-train-{BUILD_TIME}",
                    "ProcessingJobName": f"breast-cancer-evaluate-{BUILD_TIME}",
                    "S3Uri": f"s3://b/p/code/ab12/breast-cancer-train-{BUILD_TIME}/input/code",
                    "Other": f"s3://b/p/code/ab12/job-{BUILD_TIME}/source/",
                    "Kept": "breast-cancer-train-20250131120000",
                    "Model": "s3://b/p/models",
                },
            }
        ]
    }
    assert normalised_definition(raw) == expected
    assert normalised_definition(json.dumps(raw)) == expected
    assert normalised_definition(FakePipeline()) == expected
    with pytest.raises(ValueError, match="JSON object"):
        normalised_definition("[]")


# KMS -----------------------------------------------------------------------------------------


@slow
def test_no_kms_key_by_default(built: Build) -> None:
    assert "Kms" not in json.dumps(built.definition)


@slow
def test_kms_key_on_volumes_outputs_and_code(built_with_kms: Build) -> None:
    for name in ("Preprocess", "Evaluate"):
        arguments = built_with_kms.step(name)["Arguments"]
        assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KMS_KEY
        assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == KMS_KEY
    train = built_with_kms.step("Train")["Arguments"]
    assert train["ResourceConfig"]["VolumeKmsKeyId"] == KMS_KEY
    assert train["OutputDataConfig"]["KmsKeyId"] == KMS_KEY

    code_keys = [key for key in built_with_kms.keys if "/code/" in key]
    assert code_keys
    for key in code_keys:
        head = _s3().head_object(Bucket=built_with_kms.bucket, Key=key)
        assert head.get("ServerSideEncryption") == "aws:kms", key
        assert head.get("SSEKMSKeyId") == KMS_KEY, key


# Arguments and sessions ----------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "-breast", "breast-", "breast_cancer", "b" * 41])
def test_invalid_base_job_prefix_is_rejected(prefix: str) -> None:
    with pytest.raises(ValueError, match="base_job_prefix"):
        bc.get_pipeline(
            region=REGION, role_arn=ROLE_ARN, default_bucket="b", base_job_prefix=prefix
        )


@slow
def test_session_in_another_region_is_rejected(aws_env: str, built: Build) -> None:
    session = bc.make_pipeline_session(
        boto3.Session(region_name="eu-west-1"), default_bucket=built.bucket
    )
    with pytest.raises(ValueError, match="region"):
        bc.get_pipeline(
            region=REGION,
            role_arn=ROLE_ARN,
            default_bucket=built.bucket,
            sagemaker_session=session,
        )


@slow
def test_session_with_another_default_bucket_is_rejected(aws_env: str, built: Build) -> None:
    session = bc.make_pipeline_session(
        boto3.Session(region_name=REGION), default_bucket="somewhere-else"
    )
    with pytest.raises(ValueError, match="default bucket"):
        bc.get_pipeline(
            region=REGION,
            role_arn=ROLE_ARN,
            default_bucket=built.bucket,
            sagemaker_session=session,
        )


def test_code_fingerprint_follows_content_not_byte_code(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('a')\n")
    first = bc.code_fingerprint(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\x00")
    assert bc.code_fingerprint(tmp_path) == first
    (tmp_path / "train.py").write_text("print('b')\n")
    assert bc.code_fingerprint(tmp_path) != first
    assert len(first) == bc.CODE_FINGERPRINT_LENGTH


# Import --------------------------------------------------------------------------------------


def test_import_needs_no_region_and_makes_no_aws_call() -> None:
    probe = textwrap.dedent(
        """
        import socket
        import sys

        def refuse(*args, **kwargs):
            raise AssertionError("network access while importing")

        socket.socket.connect = refuse
        socket.create_connection = refuse

        import hubspoke.pipeline_definition
        import pipelines.breast_cancer.pipeline as pipeline

        loaded = sorted(
            name for name in sys.modules if name.split(".")[0] in {"sagemaker", "boto3", "botocore"}
        )
        assert not loaded, loaded
        assert callable(pipeline.get_pipeline)
        """
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
