"""`hubspoke approve|reject` as the hub approver, against localcloud."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hubspoke.config import load_config
from localcloud.server import LocalCloud

ACCOUNTS = load_config().accounts
HUBSPOKE = str(Path(sys.executable).with_name("hubspoke"))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HUBSPOKE, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def package_arn(localcloud: LocalCloud) -> str:
    orchestrator = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "cli-test")
    created = localcloud.client("sagemaker", orchestrator).create_model_package(
        ModelPackageGroupName="breast-cancer",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "sklearn:1.2-1", "ModelDataUrl": "s3://x/models/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )
    return str(created["ModelPackageArn"])


def test_approve_then_idempotent(localcloud: LocalCloud, package_arn: str) -> None:
    first = _cli(
        "approve", package_arn, "--reason", "metrics reviewed", "--endpoint", localcloud.url
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"{package_arn}: PendingManualApproval -> Approved (metrics reviewed)\n"
    described = localcloud.client(
        "sagemaker", localcloud.root_session("111111111111")
    ).describe_model_package(ModelPackageName=package_arn)
    assert described["ModelApprovalStatus"] == "Approved"
    again = _cli("approve", package_arn, "--endpoint", localcloud.url)
    assert again.stdout == f"{package_arn} is already Approved; nothing changed\n"


def test_reject_records_the_reason(localcloud: LocalCloud, package_arn: str) -> None:
    result = _cli(
        "reject", package_arn, "--reason", "drift in recall", "--endpoint", localcloud.url
    )
    assert result.returncode == 0, result.stderr
    described = localcloud.client(
        "sagemaker", localcloud.root_session("111111111111")
    ).describe_model_package(ModelPackageName=package_arn)
    assert described["ModelApprovalStatus"] == "Rejected"
    assert described.get("ApprovalDescription") == "drift in recall"


def test_missing_package_is_one_line(localcloud: LocalCloud) -> None:
    arn = "arn:aws:sagemaker:us-east-1:111111111111:model-package/breast-cancer/9999"
    result = _cli("approve", arn, "--endpoint", localcloud.url)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
