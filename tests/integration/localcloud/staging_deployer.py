"""The staging deployer as the hub orchestrator reaches it, for the endpoint tests: artifacts go
to the hub bucket as the orchestrator, models and endpoints are made and invoked by the staging
deployer it assumes over STS."""

from __future__ import annotations

import io
import tarfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from hubspoke.config import load_config
from localcloud.sagemaker.endpoints import endpoints_of
from localcloud.server import LocalCloud

ACCOUNTS = load_config().accounts
STAGING = ACCOUNTS.account_id("staging")
BUCKET = ACCOUNTS.artifacts_bucket
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
EXECUTION_ROLE = f"arn:aws:iam::{STAGING}:role/hubspoke-sagemaker-execution"
# The inference script in the artifact's code/ directory, as the SDK's repack leaves it.
ENVIRONMENT = {
    "SAGEMAKER_PROGRAM": "inference.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
}


def tarball(files: dict[str, bytes]) -> bytes:
    """A tar.gz of ``files`` (path in the archive → content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class StagingDeployer:
    """Hub bucket uploads as the orchestrator; the staging deployer's SageMaker clients."""

    prefix = "ep"  # of the endpoint names it makes up

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.orchestrator = cloud.credentials.issue_role_session(
            ACCOUNTS.orchestrator_arn, "airflow"
        )
        self.hub_s3 = cloud.client("s3", self.orchestrator)
        deployer = cloud.assume(
            ACCOUNTS.deployer_arn("staging"), "deploy-staging", via=self.orchestrator
        )
        self.sagemaker = cloud.client("sagemaker", deployer)
        self.runtime = cloud.client("sagemaker-runtime", deployer)

    def create_model(self, name: str, key: str, environment: dict[str, str] | None = None) -> None:
        """A staging model of the artifact at ``key`` in the hub bucket, run as the staging
        execution role (default environment: :data:`ENVIRONMENT`)."""
        self.sagemaker.create_model(
            ModelName=name,
            ExecutionRoleArn=EXECUTION_ROLE,
            PrimaryContainer={
                "Image": IMAGE,
                "ModelDataUrl": f"s3://{BUCKET}/{key}",
                "Environment": environment or ENVIRONMENT,
            },
        )

    def create_config(
        self, name: str, variants: list[tuple[str, str, float]], instances: int = 1
    ) -> None:
        """An endpoint config of ``(variant name, model, weight)`` variants, ``instances`` each,
        its volumes encrypted with the spoke key."""
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            KmsKeyId="alias/hubspoke-spoke",
            ProductionVariants=[
                {
                    "VariantName": variant,
                    "ModelName": model,
                    "InitialInstanceCount": instances,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": weight,
                }
                for variant, model, weight in variants
            ],
        )

    def describe(self, endpoint: str) -> dict[str, Any]:
        description: dict[str, Any] = self.sagemaker.describe_endpoint(EndpointName=endpoint)
        return description

    def wait(
        self, endpoint: str, done: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            description = self.describe(endpoint)
            if done(description) or time.monotonic() > deadline:
                return description
            time.sleep(0.05)

    def endpoint(self, config: str, name: str | None = None) -> str:
        """Create an endpoint of ``config`` and wait until it is InService."""
        name = name or f"{self.prefix}-{uuid.uuid4().hex[:8]}"
        self.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)
        described = self.wait(name, lambda d: d["EndpointStatus"] != "Creating")
        assert described["EndpointStatus"] == "InService", described.get("FailureReason")
        return name

    def delete(self, endpoint: str) -> None:
        """Clean up in-process: the SCP lets no one but the deployer delete, and it may not."""
        endpoints_of(self.cloud).delete(STAGING, self.cloud.region, endpoint)
