"""Throughput of hubspoke.iam.evaluate on a realistic hub-and-spoke world.

The world has the organization of the design (management, hub, dev, staging, prod, with
SCPs at the root, the workloads OU and each environment OU), the platform roles of every
account plus a dozen application roles each with several policies (conditions, wildcards,
variables), and the shared resources: buckets, KMS keys, model package groups and queues.
Requests mix what the local emulator sees: same-account calls, cross-account artifact
reads, role assumption through trust policies, KMS decrypts, SCP denials, implicit
denials, with and without session policies.

Run: ``uv run python benchmarks/iam_evaluate.py [--requests N] [--runs R]``. It prints the
evaluations per second of each run and their median.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from hubspoke.iam import Request, World, evaluate

MGMT, HUB = "123456789012", "111111111111"
SPOKES = {"dev": "222222222222", "staging": "333333333333", "prod": "444444444444"}
ORG = "o-abc123example"
REGION = "us-east-1"
BUCKET = f"arn:aws:s3:::hubspoke-artifacts-{HUB}"
KEY = f"arn:aws:kms:{REGION}:{HUB}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MODELS = ("churn", "fraud", "ltv", "forecast")


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def st(effect: str, action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect, "Action": action, **extra}
    if resource is not None:
        out["Resource"] = resource
    return out


def role(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def build_world() -> dict[str, Any]:
    orchestrator = role(HUB, "hubspoke-orchestrator")
    in_org = {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    principals: dict[str, Any] = {
        orchestrator: {
            "policies": {
                "assume": doc(st("Allow", "sts:AssumeRole", "arn:aws:iam::*:role/hubspoke-*")),
                "registry": doc(st("Allow", "sagemaker:*ModelPackage*", "*")),
                "artifacts": doc(
                    st("Allow", ["s3:GetObject", "s3:PutObject"], f"{BUCKET}/*"),
                    st("Allow", "s3:ListBucket", BUCKET),
                    st("Allow", ["kms:Decrypt", "kms:GenerateDataKey"], KEY),
                ),
                "ledger": doc(st("Allow", "dynamodb:PutItem", "*", Condition=in_org)),
            },
            "permissions_boundary": doc(st("Allow", "*", "*"), st("Deny", "iam:*User*", "*")),
            "trust_policy": doc(st("Allow", "sts:AssumeRole", None, Principal={"AWS": HUB})),
            "tags": {"team": "platform"},
        }
    }
    resources: dict[str, Any] = {
        BUCKET: {
            "account": HUB,
            "policy": doc(
                st(
                    "Allow",
                    "s3:GetObject",
                    f"{BUCKET}/models/*",
                    Principal={
                        "AWS": [role(a, "hubspoke-sagemaker-execution") for a in SPOKES.values()]
                    },
                ),
                st(
                    "Deny",
                    "s3:*",
                    [BUCKET, f"{BUCKET}/*"],
                    Principal="*",
                    Condition={"Bool": {"aws:SecureTransport": "false"}},
                ),
            ),
        },
        KEY: {
            "policy": doc(
                st("Allow", "kms:*", "*", Principal={"AWS": f"arn:aws:iam::{HUB}:root"}),
                st(
                    "Allow",
                    "kms:Decrypt",
                    "*",
                    Principal={"AWS": list(SPOKES.values())},
                    Condition={
                        "StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/hubspoke-*"}
                    },
                ),
            ),
        },
    }
    for model in MODELS:
        group = f"arn:aws:sagemaker:{REGION}:{HUB}:model-package-group/{model}"
        resources[group] = {
            "policy": doc(
                st(
                    "Allow",
                    ["sagemaker:DescribeModelPackage*", "sagemaker:ListModelPackages"],
                    [group, f"arn:aws:sagemaker:{REGION}:{HUB}:model-package/{model}/*"],
                    Principal={"AWS": [SPOKES["staging"], SPOKES["prod"]]},
                )
            )
        }
    for env, account in SPOKES.items():
        principals[role(account, "hubspoke-spoke-deployer")] = {
            "policies": {
                "deploy": doc(st("Allow", ["sagemaker:*", "iam:PassRole"], "*")),
                "buckets": doc(st("Allow", "s3:*", f"arn:aws:s3:::hubspoke-{env}-{account}/*")),
            },
            "trust_policy": doc(
                st(
                    "Allow",
                    "sts:AssumeRole",
                    None,
                    Principal={"AWS": orchestrator},
                    Condition=in_org,
                )
            ),
        }
        principals[role(account, "hubspoke-sagemaker-execution")] = {
            "policies": {
                "models": doc(st("Allow", "s3:GetObject", f"{BUCKET}/models/*")),
                "kms": doc(st("Allow", "kms:Decrypt", KEY)),
                "own": doc(st("Allow", "s3:*", f"arn:aws:s3:::hubspoke-{env}-{account}/*")),
            },
            "trust_policy": doc(
                st(
                    "Allow",
                    "sts:AssumeRole",
                    None,
                    Principal={"Service": "sagemaker.amazonaws.com"},
                    Condition={"StringEquals": {"aws:SourceAccount": account}},
                )
            ),
        }
        for i in range(12):
            principals[role(account, f"app-{i}")] = {
                "policies": {
                    f"p{j}": doc(
                        st(
                            "Allow",
                            [f"sqs:{verb}" for verb in ("Send*", "Receive*")],
                            f"arn:aws:sqs:{REGION}:{account}:app-{i}-*",
                        ),
                        st(
                            "Allow",
                            "s3:GetObject",
                            f"arn:aws:s3:::hubspoke-{env}-{account}/${{aws:PrincipalTag/team}}/*",
                        ),
                        st(
                            "Deny",
                            "s3:DeleteObject",
                            "*",
                            Condition={"StringNotEquals": {"aws:PrincipalTag/team": "platform"}},
                        ),
                    )
                    for j in range(3)
                },
                "tags": {"team": f"team-{i % 4}"},
            }
    workloads = ["FullAWSAccess", "SpokeGuardrails"]
    return {
        "organization": {
            "id": ORG,
            "management_account": MGMT,
            "root": {
                "id": "r-root",
                "name": "Root",
                "policies": ["FullAWSAccess", "RegionLock"],
                "accounts": [MGMT],
                "children": [
                    {"id": "ou-hub", "name": "ml-hub", "accounts": [HUB]},
                    {
                        "id": "ou-wl",
                        "name": "ml-workloads",
                        "policies": workloads,
                        "children": [
                            {"id": f"ou-{env}", "name": env, "accounts": [account]}
                            for env, account in SPOKES.items()
                        ],
                    },
                ],
            },
        },
        "scps": {
            "RegionLock": doc(
                {
                    "Effect": "Deny",
                    "NotAction": ["iam:*", "organizations:*", "sts:*"],
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"aws:RequestedRegion": [REGION]}},
                }
            ),
            "SpokeGuardrails": doc(
                st("Deny", ["sagemaker:CreateModelPackage*", "sagemaker:UpdateModelPackage"], "*"),
                st("Deny", "organizations:*", "*"),
            ),
        },
        "principals": principals,
        "resources": resources,
    }


def build_requests(count: int, seed: int = 7) -> list[Request]:
    rng = random.Random(seed)
    orchestrator = f"arn:aws:sts::{HUB}:assumed-role/hubspoke-orchestrator/airflow"
    pool: list[Request] = []
    for env, account in SPOKES.items():
        deployer = f"arn:aws:sts::{account}:assumed-role/hubspoke-spoke-deployer/{env}"
        execution = f"arn:aws:sts::{account}:assumed-role/hubspoke-sagemaker-execution/job"
        package = f"arn:aws:sagemaker:{REGION}:{HUB}:model-package/churn/3"
        ctx = {"aws:SecureTransport": True, "aws:RequestedRegion": REGION}
        pool += [
            Request(orchestrator, "sts:AssumeRole", role(account, "hubspoke-spoke-deployer"), ctx),
            Request(
                deployer,
                "sagemaker:CreateModel",
                f"arn:aws:sagemaker:{REGION}:{account}:model/m",
                ctx,
            ),
            Request(deployer, "sagemaker:UpdateModelPackage", package, ctx),
            Request(deployer, "sagemaker:DescribeModelPackage", package, ctx),
            Request(execution, "s3:GetObject", f"{BUCKET}/models/churn/3/model.tar.gz", ctx),
            Request(execution, "kms:Decrypt", KEY, ctx),
            Request(
                "sagemaker.amazonaws.com",
                "sts:AssumeRole",
                role(account, "hubspoke-sagemaker-execution"),
                {"aws:SourceAccount": account},
            ),
            Request(
                f"arn:aws:sts::{account}:assumed-role/app-3/s",
                "s3:GetObject",
                f"arn:aws:s3:::hubspoke-{env}-{account}/team-3/x.csv",
                ctx,
            ),
            Request(
                f"arn:aws:sts::{account}:assumed-role/app-5/s",
                "sqs:SendMessage",
                f"arn:aws:sqs:{REGION}:{account}:app-5-events",
                ctx,
            ),
            Request(deployer, "s3:PutObject", f"{BUCKET}/models/x", ctx),
            Request(
                deployer,
                "sagemaker:CreateEndpoint",
                "*",
                ctx,
                session_policy=doc(st("Allow", "sagemaker:*Endpoint*", "*")),
            ),
        ]
    pool += [
        Request(orchestrator, "sagemaker:UpdateModelPackage", "*", {"aws:RequestedRegion": REGION}),
        Request(orchestrator, "s3:GetObject", f"{BUCKET}/data/x", {"aws:SecureTransport": False}),
        Request(orchestrator, "kms:Decrypt", KEY),
    ]
    return [rng.choice(pool) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    world = World.from_dict(build_world())
    load_ms = (time.perf_counter() - started) * 1000
    requests = build_requests(args.requests)
    allowed = sum(evaluate(world, r).allowed for r in requests)  # warm-up, fills caches
    rates = []
    for _ in range(args.runs):
        started = time.perf_counter()
        for request in requests:
            evaluate(world, request)
        rates.append(len(requests) / (time.perf_counter() - started))
    print(
        f"world: {len(world.principals)} principals, {len(world.resources)} resource policies, "
        f"built in {load_ms:.0f} ms; requests: {len(requests)} ({allowed} allowed)"
    )
    print("runs (evaluations/s): " + ", ".join(f"{r:,.0f}" for r in rates))
    print(f"median: {statistics.median(rates):,.0f} evaluations/s")


if __name__ == "__main__":
    main()
