"""Policy and world builders shared by the hubspoke.iam tests (the canonical hub and spokes)."""

from __future__ import annotations

import copy
from typing import Any

MGMT, HUB, DEV, STAGING, PROD = (
    "123456789012",
    "111111111111",
    "222222222222",
    "333333333333",
    "444444444444",
)
ORG_ID = "o-abc123example"
REGION = "us-east-1"

ORCHESTRATOR = f"arn:aws:iam::{HUB}:role/hubspoke-orchestrator"
APPROVER = f"arn:aws:iam::{HUB}:role/hubspoke-approver"
ORCHESTRATOR_SESSION = f"arn:aws:sts::{HUB}:assumed-role/hubspoke-orchestrator/airflow"
BUCKET = f"arn:aws:s3:::hubspoke-artifacts-{HUB}"
HUB_KEY = f"arn:aws:kms:{REGION}:{HUB}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
GROUP = f"arn:aws:sagemaker:{REGION}:{HUB}:model-package-group/churn"
PACKAGE = f"arn:aws:sagemaker:{REGION}:{HUB}:model-package/churn/3"


def deployer(account: str) -> str:
    return f"arn:aws:iam::{account}:role/hubspoke-spoke-deployer"


def deployer_session(account: str, session: str = "s") -> str:
    return f"arn:aws:sts::{account}:assumed-role/hubspoke-spoke-deployer/{session}"


def execution(account: str) -> str:
    return f"arn:aws:iam::{account}:role/hubspoke-sagemaker-execution"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def stmt(effect: str, action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect, "Action": action}
    if resource is not None:
        out["Resource"] = resource
    out.update(extra)
    return out


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return doc(stmt("Allow", action, resource, **extra))


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return doc(stmt("Deny", action, resource, **extra))


def hub_spoke() -> dict[str, Any]:
    """The canonical organization, roles and shared resources (a fresh dict each call)."""
    registry_writes = ["sagemaker:CreateModelPackage*", "sagemaker:UpdateModelPackage"]
    trust_orchestrator = doc(
        stmt(
            "Allow",
            "sts:AssumeRole",
            None,
            Principal={"AWS": ORCHESTRATOR},
            Condition={"StringEquals": {"aws:PrincipalOrgID": ORG_ID}},
        )
    )
    trust_sagemaker = doc(
        stmt("Allow", "sts:AssumeRole", None, Principal={"Service": "sagemaker.amazonaws.com"})
    )
    principals: dict[str, Any] = {
        ORCHESTRATOR: {
            "policies": {
                "assume-deployers": allow(
                    "sts:AssumeRole", "arn:aws:iam::*:role/hubspoke-spoke-deployer"
                ),
                "registry": allow("sagemaker:*ModelPackage*", "*"),
                "artifacts": allow(["s3:GetObject", "s3:PutObject"], f"{BUCKET}/*"),
            },
            "trust_policy": doc(
                stmt(
                    "Allow", "sts:AssumeRole", None, Principal={"Service": "airflow.amazonaws.com"}
                )
            ),
            "tags": {"team": "platform"},
        },
        APPROVER: {
            "policies": {"approve": allow("sagemaker:UpdateModelPackage", "*")},
            "trust_policy": doc(stmt("Allow", "sts:AssumeRole", None, Principal={"AWS": HUB})),
        },
    }
    for account in (DEV, STAGING, PROD):
        principals[deployer(account)] = {
            "policies": {"deploy": allow(["sagemaker:*", "iam:PassRole"], "*")},
            "trust_policy": trust_orchestrator,
        }
        principals[execution(account)] = {
            "policies": {
                "models": allow("s3:GetObject", f"{BUCKET}/models/*"),
                "decrypt": allow("kms:Decrypt", HUB_KEY),
            },
            "trust_policy": trust_sagemaker,
        }
    return {
        "organization": {
            "id": ORG_ID,
            "management_account": MGMT,
            "root": {
                "id": "r-root",
                "name": "Root",
                "policies": ["FullAWSAccess"],
                "accounts": [MGMT],
                "children": [
                    {"id": "ou-hub", "name": "ml-hub", "accounts": [HUB]},
                    {
                        "id": "ou-wl",
                        "name": "ml-workloads",
                        "policies": ["FullAWSAccess", "SpokesCannotWriteRegistry"],
                        "children": [
                            {"id": "ou-dev", "name": "dev", "accounts": [DEV]},
                            {"id": "ou-stg", "name": "staging", "accounts": [STAGING]},
                            {"id": "ou-prod", "name": "prod", "accounts": [PROD]},
                        ],
                    },
                ],
            },
        },
        "scps": {
            "SpokesCannotWriteRegistry": doc(
                stmt("Deny", registry_writes, "*", Sid="NoRegistryWrites")
            ),
        },
        "principals": principals,
        "resources": {
            BUCKET: {
                "name": "artifacts bucket policy",
                "account": HUB,
                "policy": doc(
                    stmt(
                        "Allow",
                        "s3:GetObject",
                        f"{BUCKET}/models/*",
                        Sid="SpokesReadModels",
                        Principal={"AWS": [execution(STAGING), execution(PROD)]},
                    ),
                    stmt(
                        "Deny",
                        "s3:*",
                        [BUCKET, f"{BUCKET}/*"],
                        Sid="TlsOnly",
                        Principal="*",
                        Condition={"Bool": {"aws:SecureTransport": "false"}},
                    ),
                ),
            },
            HUB_KEY: {
                "name": "hub key policy",
                "policy": doc(
                    stmt(
                        "Allow",
                        "kms:*",
                        "*",
                        Sid="Root",
                        Principal={"AWS": f"arn:aws:iam::{HUB}:root"},
                    ),
                    stmt(
                        "Allow",
                        "kms:Decrypt",
                        "*",
                        Sid="SpokesDecrypt",
                        Principal={"AWS": [execution(STAGING), execution(PROD)]},
                    ),
                ),
            },
            GROUP: {
                "name": "churn model package group policy",
                "policy": doc(
                    stmt(
                        "Allow",
                        ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
                        [GROUP, f"arn:aws:sagemaker:{REGION}:{HUB}:model-package/churn/*"],
                        Sid="SpokesRead",
                        Principal={"AWS": [STAGING, PROD]},
                    )
                ),
            },
        },
    }


def with_changes(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with top-level keys replaced."""
    out = copy.deepcopy(base)
    out.update(changes)
    return out
