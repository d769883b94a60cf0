"""Requests per second through localcloud with enforcement on, against bare moto.

Both servers answer the same mixed read workload (S3 GetObject/HeadObject/ListObjectsV2 on an
SSE-KMS bucket, IAM GetRole, SageMaker DescribeModelPackageGroup/ListModels, STS
GetCallerIdentity) in the same run, in alternating rounds, and the medians are compared.

localcloud is bootstrapped from ``infra/`` + ``config/`` and the workload runs as a hub role
with real policies (identity policy with a condition, the organization's SCPs, the bucket
policy and the KMS key policy of the artifacts bucket), so every request is SigV4-verified
and evaluated. Bare moto gets the same bucket, objects, role and group, no enforcement.

Each server runs in its own process: moto keeps its state in module globals, so two servers
in one process would share (and race on) one store, and would also share one interpreter
lock with each other and with the client, which would blur what is being compared.

Run: ``uv run python benchmarks/localcloud_throughput.py [--rounds 5] [--requests 600]
[--threads 4] [--profile FILE]``. It prints requests per second of every round, the medians
and the ratio localcloud / moto. ``--profile`` writes a cProfile of the localcloud server
process over the whole run (read it with ``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

HUB = "111111111111"
REGION = "us-east-1"
BUCKET = f"hubspoke-artifacts-{HUB}"
GROUP = "breast-cancer"
READER = "hubspoke-benchmark-reader"
OBJECTS = [f"models/bench/{i:03d}/model.tar.gz" for i in range(20)]

# The role the workload runs as in localcloud: only what the workload needs.
READER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadModels",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/models/*",
        },
        {
            "Sid": "ListModels",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{BUCKET}",
            "Condition": {"StringLike": {"s3:prefix": "models/*"}},
        },
        {
            "Sid": "DecryptThroughS3",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": f"arn:aws:kms:{REGION}:{HUB}:key/*",
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}},
        },
        {
            "Sid": "ReadRoles",
            "Effect": "Allow",
            "Action": "iam:GetRole",
            "Resource": f"arn:aws:iam::{HUB}:role/hubspoke-*",
        },
        {
            "Sid": "ReadRegistry",
            "Effect": "Allow",
            "Action": ["sagemaker:DescribeModelPackageGroup", "sagemaker:ListModels"],
            "Resource": "*",
        },
    ],
}


# ------------------------------------------------------------------ server processes


def _announce(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def _wait_for_stdin_close() -> None:
    sys.stdin.read()


def _seed_objects(s3: Any) -> None:
    for key in OBJECTS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=os.urandom(4096))


def serve_localcloud(profile: str | None) -> None:
    """Bootstrapped localcloud, enforcement on; announces the reader's credentials."""
    from localcloud.bootstrap import bootstrap
    from localcloud.server import LocalCloud

    profiler = _start_profiler() if profile else None
    cloud = LocalCloud(port=0).start()
    bootstrap(cloud)
    hub_root = cloud.root_session(HUB)
    iam = cloud.client("iam", hub_root)
    iam.create_role(
        RoleName=READER,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{HUB}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.put_role_policy(
        RoleName=READER, PolicyName=READER, PolicyDocument=json.dumps(READER_POLICY)
    )
    _seed_objects(cloud.client("s3", hub_root))
    session = cloud.credentials.issue_role_session(f"arn:aws:iam::{HUB}:role/{READER}", "bench")
    _announce(
        {
            "url": cloud.url,
            "key": session.access_key_id,
            "secret": session.secret_access_key,
            "token": session.session_token,
        }
    )
    try:
        _wait_for_stdin_close()
    finally:
        if profiler is not None and profile:
            profiler.dump_stats(profile)
        cloud.stop()


def serve_moto() -> None:
    """Bare moto with the same bucket, objects, role and group; no enforcement."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    # A log line per request would slow moto down (localcloud's server logs none).
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    creds = {"key": "AKIABENCHMARKMOTO000", "secret": "bench-secret", "token": None}
    session = boto3.Session(creds["key"], creds["secret"], region_name=REGION)
    kms = session.client("kms", endpoint_url=url)
    key_arn = kms.create_key(Description="artifacts")["KeyMetadata"]["Arn"]
    s3 = session.client("s3", endpoint_url=url)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_arn,
                    }
                }
            ]
        },
    )
    _seed_objects(s3)
    session.client("iam", endpoint_url=url).create_role(
        RoleName="hubspoke-orchestrator", AssumeRolePolicyDocument="{}"
    )
    session.client("sagemaker", endpoint_url=url).create_model_package_group(
        ModelPackageGroupName=GROUP
    )
    _announce({"url": url, **creds})
    try:
        _wait_for_stdin_close()
    finally:
        server.stop()


def _start_profiler() -> Any:
    """Profile every request the gateway handles (requests are serialised while profiling:
    one cProfile cannot follow several threads, so figures of a profiled run mean nothing)."""
    import cProfile
    import threading

    from localcloud.gateway import Gateway

    profiler = cProfile.Profile()
    lock = threading.Lock()
    handle = Gateway.__call__

    def profiled(self: Gateway, environ: dict[str, Any], start_response: Any) -> Any:
        with lock:
            return profiler.runcall(handle, self, environ, start_response)

    Gateway.__call__ = profiled  # type: ignore[method-assign]
    return profiler


# ------------------------------------------------------------------ the workload


@dataclass
class Target:
    name: str
    process: subprocess.Popen[str]
    url: str
    clients: dict[str, Any]


def _start(kind: str, profile: str | None) -> Target:
    command = [sys.executable, __file__, "--serve", kind]
    if profile:
        command += ["--profile", profile]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the {kind} server process exited before it was ready")
    info = json.loads(line)
    import boto3
    from botocore.config import Config

    session = boto3.Session(info["key"], info["secret"], info["token"], region_name=REGION)
    config = Config(max_pool_connections=32, retries={"max_attempts": 1})
    clients = {
        service: session.client(service, endpoint_url=info["url"], config=config)
        for service in ("s3", "iam", "sagemaker", "sts")
    }
    return Target(kind, process, info["url"], clients)


def _stop(target: Target) -> None:
    assert target.process.stdin is not None
    target.process.stdin.close()
    try:
        target.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        target.process.send_signal(signal.SIGTERM)
        target.process.wait(timeout=10)


def workload(clients: dict[str, Any]) -> list[Callable[[], Any]]:
    """The request mix, in the proportions a deploy/verify loop reads."""
    s3, iam, sm, sts = clients["s3"], clients["iam"], clients["sagemaker"], clients["sts"]
    keys = itertools.cycle(OBJECTS)
    return [
        lambda: s3.get_object(Bucket=BUCKET, Key=next(keys))["Body"].read(),
        lambda: s3.get_object(Bucket=BUCKET, Key=next(keys))["Body"].read(),
        lambda: s3.head_object(Bucket=BUCKET, Key=next(keys)),
        lambda: s3.head_object(Bucket=BUCKET, Key=next(keys)),
        lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix="models/bench/"),
        lambda: iam.get_role(RoleName="hubspoke-orchestrator"),
        lambda: sm.describe_model_package_group(ModelPackageGroupName=GROUP),
        lambda: sm.list_models(),
        lambda: sts.get_caller_identity(),
    ]


def run_round(target: Target, requests: int, threads: int) -> float:
    """Requests per second of ``requests`` calls of the mix over ``threads`` client threads."""
    mix = workload(target.clients)
    calls = [mix[i % len(mix)] for i in range(requests)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(lambda call: call(), calls):
            pass
    return requests / (time.perf_counter() - started)


@contextlib.contextmanager
def servers(profile: str | None) -> Iterator[tuple[Target, Target]]:
    local = _start("localcloud", profile)
    try:
        moto = _start("moto", None)
        try:
            yield local, moto
        finally:
            _stop(moto)
    finally:
        _stop(local)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=600, help="requests per round")
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument("--profile", help="write a cProfile of the localcloud server here")
    parser.add_argument("--serve", choices=["localcloud", "moto"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve == "localcloud":
        serve_localcloud(args.profile)
        return 0
    if args.serve == "moto":
        serve_moto()
        return 0
    results: dict[str, list[float]] = {"localcloud": [], "moto": []}
    with servers(args.profile) as (local, moto):
        for target in (local, moto):  # warm-up: parse models, open connections, build worlds
            run_round(target, len(workload(target.clients)) * 4, args.threads)
        for index in range(args.rounds):
            order = (local, moto) if index % 2 == 0 else (moto, local)
            for target in order:
                results[target.name].append(run_round(target, args.requests, args.threads))
            print(
                f"round {index + 1}: localcloud {results['localcloud'][-1]:8.1f} req/s   "
                f"moto {results['moto'][-1]:8.1f} req/s"
            )
    local_median = statistics.median(results["localcloud"])
    moto_median = statistics.median(results["moto"])
    print(f"median localcloud (enforcement on): {local_median:.1f} req/s")
    print(f"median bare moto:                   {moto_median:.1f} req/s")
    print(f"ratio localcloud / moto:            {local_median / moto_median:.2f} (goal >= 0.70)")
    print(
        f"({args.rounds} rounds x {args.requests} requests, {args.threads} client threads, "
        f"{len(workload(local.clients))}-call mix)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
