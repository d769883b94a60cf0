"""Endpoints on localcloud: CreateEndpoint → InService time and InvokeEndpoint latency.

Boots a bootstrapped localcloud, trains the breast-cancer model locally (20 trees), repacks the
artifact with its inference script under ``code/`` and uploads it to the hub bucket as the hub
orchestrator; the staging deployer (assumed by the orchestrator) creates the model and endpoint
config. Each round creates an endpoint (the artifact is read as the staging execution role,
through localcloud's S3 and its policies), times it to InService, sends ``--invocations``
single-row CSV requests through boto3's sagemaker-runtime client and records p50 and p95,
then deletes the endpoint.

Run: ``uv run python benchmarks/localcloud_endpoints.py [--rounds R] [--invocations N]``. It
prints each round's figures and the median of the rounds.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tarfile
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pipelines.breast_cancer
from hubspoke.config import load_config
from localcloud.bootstrap import bootstrap
from localcloud.runtime.local_run import run_pipeline_locally
from localcloud.sagemaker.endpoints import endpoints_of
from localcloud.server import LocalCloud
from pipelines.breast_cancer import inference
from pipelines.breast_cancer.dataset import export_dataset

ACCOUNTS = load_config().accounts
STAGING = ACCOUNTS.account_id("staging")
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def _artifact(workdir: Path) -> tuple[bytes, list[str]]:
    """A repacked model.tar.gz and the CSV rows (features only) to send."""
    data_csv = export_dataset(workdir / "data.csv")
    run = run_pipeline_locally(
        Path(pipelines.breast_cancer.__file__).parent,
        data_csv,
        workdir / "run",
        {"n-estimators": "20"},
    )
    buffer = io.BytesIO()
    with (
        tarfile.open(run.model_artifact) as source,
        tarfile.open(fileobj=buffer, mode="w:gz") as tar,
    ):
        for member in source:
            if member.isfile():
                tar.addfile(member, source.extractfile(member))
        script = Path(inference.__file__).read_bytes()
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    rows = [line.rsplit(",", 1)[0] for line in data_csv.read_text().splitlines()[1:]]
    return buffer.getvalue(), rows


def _clients(cloud: LocalCloud) -> tuple[Any, Any, Any]:
    orchestrator = cloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "bench")
    deployer = cloud.assume(ACCOUNTS.deployer_arn("staging"), "bench", via=orchestrator)
    return (
        cloud.client("s3", orchestrator),
        cloud.client("sagemaker", deployer),
        cloud.client("sagemaker-runtime", deployer),
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--invocations", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalCloud(port=0) as cloud:
        bootstrap(cloud)
        artifact, rows = _artifact(Path(tmp))
        s3, sagemaker, runtime = _clients(cloud)
        name = f"bench-{uuid.uuid4().hex[:8]}"
        key = f"models/{name}/model.tar.gz"
        s3.put_object(Bucket=ACCOUNTS.artifacts_bucket, Key=key, Body=artifact)
        sagemaker.create_model(
            ModelName=name,
            ExecutionRoleArn=f"arn:aws:iam::{STAGING}:role/hubspoke-sagemaker-execution",
            PrimaryContainer={
                "Image": IMAGE,
                "ModelDataUrl": f"s3://{ACCOUNTS.artifacts_bucket}/{key}",
                "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
            },
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            KmsKeyId="alias/hubspoke-spoke",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
        creates, p50s, p95s = [], [], []
        for round_ in range(1, args.rounds + 1):
            endpoint = f"{name}-{round_}"
            started = time.perf_counter()
            sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=name)
            while (
                status := sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
            ) == "Creating":
                time.sleep(0.01)
            if status != "InService":
                raise SystemExit(f"endpoint {endpoint} is {status}")
            creates.append(time.perf_counter() - started)
            latencies = []
            for i in range(args.invocations):
                sent = time.perf_counter()
                runtime.invoke_endpoint(
                    EndpointName=endpoint, Body=rows[i % len(rows)], ContentType="text/csv"
                )["Body"].read()
                latencies.append((time.perf_counter() - sent) * 1000)
            p50s.append(_percentile(latencies, 0.50))
            p95s.append(_percentile(latencies, 0.95))
            endpoints_of(cloud).delete(STAGING, cloud.region, endpoint)  # the SCP denies automation
            print(
                f"round {round_}: create → InService {creates[-1]:.2f} s, "
                f"invoke p50 {p50s[-1]:.2f} ms, p95 {p95s[-1]:.2f} ms"
            )
        print(
            f"median of {args.rounds} rounds: "
            f"create → InService {statistics.median(creates):.2f} s, "
            f"invoke p50 {statistics.median(p50s):.2f} ms, p95 {statistics.median(p95s):.2f} ms "
            f"({args.invocations} single-row CSV invocations per round)"
        )


if __name__ == "__main__":
    main()
