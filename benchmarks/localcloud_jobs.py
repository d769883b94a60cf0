"""Job start overhead of localcloud's processing jobs.

Overhead = wall time of a processing job (CreateProcessingJob until Describe says Completed)
minus the script's own run time (measured inside the script). It covers the API call and
authorization, staging the input from S3 as the execution role, process start-up, uploading
the output with SSE-KMS and writing the logs. Prints every run and the median.

    uv run python benchmarks/localcloud_jobs.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid

from localcloud.bootstrap import bootstrap
from localcloud.server import LocalCloud

DEV = "222222222222"
BUCKET = f"hubspoke-dev-{DEV}"
ROLE = f"arn:aws:iam::{DEV}:role/hubspoke-sagemaker-execution"
SCRIPT = """\
import sys, time
started = time.perf_counter()
data = open(sys.argv[1]).read()
open(sys.argv[2], 'w').write(str(len(data.splitlines())))
print('SCRIPT_SECONDS', time.perf_counter() - started)
"""


def run_once(cloud: LocalCloud, key_arn: str) -> tuple[float, float]:
    """(wall seconds, script seconds) of one processing job."""
    session = cloud.credentials.issue_role_session(ROLE, "benchmark")
    sm, s3 = cloud.client("sagemaker", session), cloud.client("s3", session)
    name = f"bench-{uuid.uuid4().hex[:10]}"
    prefix = f"benchmarks/{name}"
    started = time.perf_counter()
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        AppSpecification={
            "ImageUri": "local",
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/job.py"],
            "ContainerArguments": [
                "/opt/ml/processing/input/data/rows.csv",
                "/opt/ml/processing/output/count.txt",
            ],
        },
        ProcessingInputs=[
            _input(
                "code", f"s3://{BUCKET}/benchmarks/code/job.py", "/opt/ml/processing/input/code"
            ),
            _input("data", f"s3://{BUCKET}/benchmarks/data/", "/opt/ml/processing/input/data"),
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/{prefix}/out",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ],
            "KmsKeyId": key_arn,
        },
        ProcessingResources={
            "ClusterConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
                "VolumeKmsKeyId": key_arn,
            }
        },
    )
    while True:
        status = sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"]
        if status != "InProgress":
            break
        time.sleep(0.01)
    wall = time.perf_counter() - started
    if status != "Completed":
        reason = sm.describe_processing_job(ProcessingJobName=name).get("FailureReason")
        raise RuntimeError(f"job {name} ended {status}: {reason}")
    logs = cloud.client("logs", cloud.root_session(DEV))  # the role may only write logs
    stream = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=name
    )["logStreams"][0]["logStreamName"]
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=stream
    )["events"]
    script = next(
        float(e["message"].split()[1]) for e in events if "SCRIPT_SECONDS" in e["message"]
    )
    s3.head_object(Bucket=BUCKET, Key=f"{prefix}/out/count.txt")
    return wall, script


def _input(name: str, uri: str, local_path: str) -> dict[str, object]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    with LocalCloud(port=0) as cloud:
        bootstrap(cloud)
        session = cloud.credentials.issue_role_session(ROLE, "benchmark")
        key_arn = cloud.client("kms", session).describe_key(KeyId="alias/hubspoke-spoke")[
            "KeyMetadata"
        ]["Arn"]
        s3 = cloud.client("s3", session)
        put = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn}
        s3.put_object(Bucket=BUCKET, Key="benchmarks/code/job.py", Body=SCRIPT.encode(), **put)
        rows = "\n".join(f"{i},{i * i}" for i in range(1000)).encode()
        s3.put_object(Bucket=BUCKET, Key="benchmarks/data/rows.csv", Body=rows, **put)
        run_once(cloud, key_arn)  # warm-up: first clients, first world build
        overheads = []
        for index in range(args.runs):
            wall, script = run_once(cloud, key_arn)
            overhead = wall - script
            overheads.append(overhead)
            print(
                f"run {index + 1}: wall {wall:.3f} s, script {script:.4f} s, "
                f"overhead {overhead:.3f} s"
            )
        summary = {
            "runs": args.runs,
            "median_overhead_seconds": round(statistics.median(overheads), 3),
            "min_overhead_seconds": round(min(overheads), 3),
            "max_overhead_seconds": round(max(overheads), 3),
        }
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
