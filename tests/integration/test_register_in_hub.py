"""register_in_hub as the hub orchestrator: artifacts pulled into the hub, lineage recorded,
and a retry for the same pipeline execution never makes a second version."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from pathlib import Path

from hubspoke.config import load_config, project_root
from hubspoke.registry import Lineage, register_in_hub
from hubspoke.training import TrainingOutputs
from localcloud.server import LocalCloud

CONFIG = load_config()
ACCOUNTS = CONFIG.accounts
MODEL = CONFIG.models.get("breast-cancer")


def _artifact() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        data = b"not a real model, only bytes to carry"
        info = tarfile.TarInfo("model.joblib")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_retry_returns_the_same_version(localcloud: LocalCloud) -> None:
    run = uuid.uuid4().hex[:8]
    dev = localcloud.client("s3", localcloud.root_session(ACCOUNTS.account_id("dev")))
    prefix = f"breast-cancer/executions/{run}"
    dev.put_object(Bucket=ACCOUNTS.dev_bucket, Key=f"{prefix}/model.tar.gz", Body=_artifact())
    report = {"binary_classification_metrics": {"roc_auc": {"value": 0.99}}, "test_rows": 86}
    dev.put_object(
        Bucket=ACCOUNTS.dev_bucket,
        Key=f"{prefix}/evaluation.json",
        Body=json.dumps(report).encode(),
    )
    dev.put_object(
        Bucket=ACCOUNTS.dev_bucket,
        Key=f"{prefix}/predictions.csv",
        Body=b"a,label,probability,prediction\n",
    )
    uri = f"s3://{ACCOUNTS.dev_bucket}/{prefix}"
    outputs = TrainingOutputs(
        execution_arn=f"arn:aws:sagemaker:us-east-1:222222222222:pipeline/breast-cancer/execution/{run}",
        model_artifact=f"{uri}/model.tar.gz",
        evaluation_report=f"{uri}/evaluation.json",
        predictions=f"{uri}/predictions.csv",
        training_image="sklearn:1.2-1",
        metrics={"roc_auc": 0.99},
    )
    orchestrator = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "register")
    sagemaker, s3 = (
        localcloud.client("sagemaker", orchestrator),
        localcloud.client("s3", orchestrator),
    )
    kwargs = {
        "sagemaker": sagemaker,
        "s3": s3,
        "accounts": ACCOUNTS,
        "model": MODEL,
        "outputs": outputs,
        "lineage": Lineage(git_revision="abc", data_uri="s3://d/x.csv", dag_run_id="manual__1"),
        "inference_script": project_root() / Path(MODEL.pipeline) / "inference.py",
    }
    first = register_in_hub(**kwargs)  # type: ignore[arg-type]
    second = register_in_hub(**kwargs)  # type: ignore[arg-type]
    assert first == second
    described = sagemaker.describe_model_package(ModelPackageName=first)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert (
        described["CustomerMetadataProperties"]["hubspoke:pipeline-execution-arn"]
        == outputs.execution_arn
    )
    container = described["InferenceSpecification"]["Containers"][0]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    bucket, key = container["ModelDataUrl"].removeprefix("s3://").split("/", 1)
    packed = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as archive:
        assert sorted(archive.getnames()) == ["code/inference.py", "model.joblib"]
