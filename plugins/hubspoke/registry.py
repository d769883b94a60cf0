"""The hub's model registry: register a trained model, resolve versions, read approvals.

``register_in_hub`` is what the hub orchestrator does after training in dev: it pulls the
artifact and evaluation from dev's bucket (the hub pulls; dev never writes into the hub),
packs the model's inference script into the artifact as SageMaker's framework containers
expect (``code/`` + ``SAGEMAKER_PROGRAM``), stores both under the hub bucket, and creates a
``PendingManualApproval`` version with metrics and lineage. A retry for the same pipeline
execution finds the version it already made instead of creating a second one.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from hubspoke.config import AccountsConfig, ModelConfig
    from hubspoke.training import TrainingOutputs

LINEAGE_EXECUTION = "hubspoke:pipeline-execution-arn"
CONTENT_TYPES = ["text/csv", "application/json"]


@dataclass(frozen=True)
class Lineage:
    git_revision: str
    data_uri: str
    dag_run_id: str
    reason: str = ""


def group_arn(accounts: AccountsConfig, model: ModelConfig) -> str:
    hub = accounts.account_id("hub")
    return f"arn:aws:sagemaker:{accounts.region}:{hub}:model-package-group/{model.name}"


def _split(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    return parts.netloc, parts.path.lstrip("/")


def find_version_for_execution(sagemaker: Any, group: str, execution_arn: str) -> str | None:
    """The package already registered for ``execution_arn``, if any (newest first)."""
    paginator = sagemaker.get_paginator("list_model_packages")
    for page in paginator.paginate(ModelPackageGroupName=group, SortOrder="Descending"):
        for summary in page["ModelPackageSummaryList"]:
            arn = summary["ModelPackageArn"]
            described = sagemaker.describe_model_package(ModelPackageName=arn)
            if (
                described.get("CustomerMetadataProperties", {}).get(LINEAGE_EXECUTION)
                == execution_arn
            ):
                return str(arn)
    return None


def _with_inference_code(artifact: bytes, script: Path) -> bytes:
    """model.tar.gz with ``code/<script>`` added (SageMaker's repack, done by the hub)."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(artifact), mode="r:gz") as source,
        tarfile.open(fileobj=out, mode="w:gz") as target,
    ):
        for member in source.getmembers():
            if member.name.lstrip("./").startswith("code/"):
                continue
            target.addfile(member, source.extractfile(member) if member.isfile() else None)
        target.add(str(script), arcname=f"code/{script.name}")
    return out.getvalue()


def register_in_hub(
    *,
    sagemaker: Any,
    s3: Any,
    accounts: AccountsConfig,
    model: ModelConfig,
    outputs: TrainingOutputs,
    lineage: Lineage,
    inference_script: Path,
) -> str:
    """Copy the artifacts into the hub and create the package; return its ARN."""
    group = group_arn(accounts, model)
    existing = find_version_for_execution(sagemaker, group, outputs.execution_arn)
    if existing:
        return existing
    run_id = outputs.execution_arn.rsplit("/", 1)[-1]
    hub = accounts.artifacts_bucket
    model_key = f"models/{model.name}/{run_id}/model.tar.gz"
    bucket, key = _split(outputs.model_artifact)
    artifact = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=hub, Key=model_key, Body=_with_inference_code(artifact, inference_script))
    for name, uri in (
        ("evaluation.json", outputs.evaluation_report),
        ("predictions.csv", outputs.predictions),
    ):
        src_bucket, src_key = _split(uri)
        s3.put_object(
            Bucket=hub,
            Key=f"evaluations/{model.name}/{run_id}/{name}",
            Body=s3.get_object(Bucket=src_bucket, Key=src_key)["Body"].read(),
        )
    environment = {
        "SAGEMAKER_PROGRAM": inference_script.name,
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    }
    created = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelPackageDescription=(lineage.reason or f"retrained by {lineage.dag_run_id}")[:1024],
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": outputs.training_image,
                    "ModelDataUrl": f"s3://{hub}/{model_key}",
                    "Environment": environment,
                }
            ],
            "SupportedContentTypes": CONTENT_TYPES,
            "SupportedResponseMIMETypes": CONTENT_TYPES,
            "SupportedRealtimeInferenceInstanceTypes": sorted(
                {model.environments.staging.instance_type, model.environments.prod.instance_type}
            ),
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://{hub}/evaluations/{model.name}/{run_id}/evaluation.json",
                }
            }
        },
        MetadataProperties={"GeneratedBy": outputs.execution_arn, "CommitId": lineage.git_revision},
        CustomerMetadataProperties={
            LINEAGE_EXECUTION: outputs.execution_arn,
            "hubspoke:data-uri": lineage.data_uri,
            "hubspoke:dag-run-id": lineage.dag_run_id,
            **{f"hubspoke:metric:{k}": f"{v:.6f}" for k, v in outputs.metrics.items()},
        },
    )
    return str(created["ModelPackageArn"])


def package_version(arn: str) -> int:
    return int(arn.rsplit("/", 1)[-1])


def latest_approved(sagemaker: Any, accounts: AccountsConfig, model: ModelConfig) -> str | None:
    response = sagemaker.list_model_packages(
        ModelPackageGroupName=group_arn(accounts, model),
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )
    summaries = response.get("ModelPackageSummaryList", [])
    return str(summaries[0]["ModelPackageArn"]) if summaries else None


def package_arn(accounts: AccountsConfig, model: ModelConfig, version: int) -> str:
    hub = accounts.account_id("hub")
    return f"arn:aws:sagemaker:{accounts.region}:{hub}:model-package/{model.name}/{version}"
