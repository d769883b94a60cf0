"""The approval wait: trigger round-trip, approved and rejected outcomes against localcloud."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from hubspoke.config import load_config
from hubspoke.operators.approval import PackageRejectedError, WaitForApprovalOperator
from hubspoke.triggers.approval import ModelPackageApprovalTrigger
from localcloud.server import LocalCloud

ACCOUNTS = load_config().accounts


def test_trigger_serialises_primitives_only() -> None:
    trigger = ModelPackageApprovalTrigger(
        "arn:aws:sagemaker:us-east-1:111111111111:model-package/m/1", poll_interval=2
    )
    path, kwargs = trigger.serialize()
    assert path == "hubspoke.triggers.approval.ModelPackageApprovalTrigger"
    rebuilt = ModelPackageApprovalTrigger(**kwargs)
    assert rebuilt.serialize() == (path, kwargs)
    assert all(isinstance(v, str | int | float | type(None)) for v in kwargs.values())


def test_operator_templates_the_package() -> None:
    assert "package_arn" in WaitForApprovalOperator.template_fields


def _register(localcloud: LocalCloud) -> str:
    orchestrator = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "wait-test")
    created = localcloud.client("sagemaker", orchestrator).create_model_package(
        ModelPackageGroupName="breast-cancer",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "sklearn", "ModelDataUrl": "s3://x/models/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )
    return str(created["ModelPackageArn"])


def _decide_later(localcloud: LocalCloud, arn: str, status: str, reason: str) -> threading.Thread:
    approver = localcloud.credentials.issue_role_session(ACCOUNTS.approver_arn, "person")
    client = localcloud.client("sagemaker", approver)

    def decide() -> None:
        time.sleep(1.0)
        client.update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=reason
        )

    thread = threading.Thread(target=decide)
    thread.start()
    return thread


async def _first_event(trigger: ModelPackageApprovalTrigger) -> dict[str, object]:
    async for event in trigger.run():
        return dict(event.payload)
    raise AssertionError("the trigger ended without an event")


@pytest.mark.usefixtures("airflow_as_orchestrator")
def test_trigger_fires_on_approval(localcloud: LocalCloud) -> None:
    arn = _register(localcloud)
    thread = _decide_later(localcloud, arn, "Approved", "looks good")
    event = asyncio.run(
        asyncio.wait_for(_first_event(ModelPackageApprovalTrigger(arn, poll_interval=0.2)), 30)
    )
    thread.join()
    assert event["status"] == "approved" and event["package_arn"] == arn
    assert event["description"] == "looks good"


@pytest.mark.usefixtures("airflow_as_orchestrator")
def test_rejection_fails_fast_with_the_reason(localcloud: LocalCloud) -> None:
    arn = _register(localcloud)
    thread = _decide_later(localcloud, arn, "Rejected", "recall regressed on the holdout")
    event = asyncio.run(
        asyncio.wait_for(_first_event(ModelPackageApprovalTrigger(arn, poll_interval=0.2)), 30)
    )
    thread.join()
    operator = WaitForApprovalOperator(task_id="wait", package_arn=arn)
    with pytest.raises(PackageRejectedError, match="was rejected: recall regressed on the holdout"):
        operator.execute_complete({}, event)  # type: ignore[arg-type]
