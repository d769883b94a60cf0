"""The hub registry over HTTP with the bootstrapped roles: register, approve (one event on the
hub queue), cross-account reads and CreateModel from the hub package, and the refusals AWS
gives. Every package this module registers is Rejected when it ends, so later tests never
mistake one for a deployable version."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from hubspoke.config import load_config
from localcloud.server import LocalCloud

ACCOUNTS = load_config().accounts
HUB, STAGING, PROD = (ACCOUNTS.account_id(a) for a in ("hub", "staging", "prod"))
GROUP = "breast-cancer"
GROUP_ARN = f"arn:aws:sagemaker:us-east-1:{HUB}:model-package-group/{GROUP}"
QUEUE = "hubspoke-model-package-events"
OUTSIDER = "999999999999"  # not in the organization
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"


def _spec(run: str) -> dict[str, Any]:
    return {
        "Containers": [
            {
                "Image": IMAGE,
                "ModelDataUrl": f"s3://{ACCOUNTS.artifacts_bucket}/models/{run}/model.tar.gz",
                "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
            }
        ],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }


class Hub:
    """Clients of the bootstrapped principals, as the flow uses them."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self._orchestrator = cloud.credentials.issue_role_session(
            ACCOUNTS.orchestrator_arn, "registry"
        )
        approver = cloud.credentials.issue_role_session(ACCOUNTS.approver_arn, "alice")
        self.orchestrator = cloud.client("sagemaker", self._orchestrator)
        self.approver = cloud.client("sagemaker", approver)
        self.sqs = cloud.client("sqs", self._orchestrator)
        self.queue_url = self.sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]

    def deployer(self, spoke: str, service: str = "sagemaker") -> Any:
        session = self.cloud.assume(
            ACCOUNTS.deployer_arn(spoke), f"registry-{spoke}", via=self._orchestrator
        )
        return self.cloud.client(service, session)

    def register(self, run: str, **extra: Any) -> str:
        arn: str = self.orchestrator.create_model_package(
            ModelPackageGroupName=GROUP_ARN,
            ModelApprovalStatus="PendingManualApproval",
            ModelPackageDescription=f"registry test {run}",
            InferenceSpecification=_spec(run),
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://{ACCOUNTS.artifacts_bucket}/evaluations/{run}.json",
                    }
                }
            },
            MetadataProperties={"GeneratedBy": f"arn:aws:sagemaker:us-east-1:{HUB}:run/{run}"},
            CustomerMetadataProperties={"git_revision": "abc123", "dag_run": run},
            **extra,
        )["ModelPackageArn"]
        return arn

    def events_for(self, arn: str, expected: int, wait: float = 5.0) -> list[dict[str, Any]]:
        """The queue's events about ``arn`` (consumed); others' messages are put back.

        Delivery happens before the SageMaker call returns, so once every message in the
        queue has been seen, nothing more about ``arn`` can arrive.
        """
        found: list[dict[str, Any]] = []
        seen: set[str] = set()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            for message in batch:
                seen.add(message["MessageId"])
                event = json.loads(message["Body"])
                mine = event.get("detail", {}).get("ModelPackageArn") == arn
                if mine:
                    found.append(event)
                    self.sqs.delete_message(
                        QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
                else:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue_url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=0,
                    )
            if not fresh and len(found) >= expected:
                break
            if not batch:
                time.sleep(0.05)
        return found


@pytest.fixture(scope="module")
def hub(localcloud: LocalCloud) -> Iterator[Hub]:
    hub = Hub(localcloud)
    # Earlier tests of the run registered and approved packages too: start from an empty
    # queue so every message read here is about this module's packages.
    localcloud.client("sqs", localcloud.root_session(HUB)).purge_queue(QueueUrl=hub.queue_url)
    hub.registered: list[str] = []  # type: ignore[misc]
    yield hub
    for arn in hub.registered:  # type: ignore[attr-defined]
        hub.approver.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
        hub.events_for(arn, expected=1, wait=1.0)


@pytest.fixture(scope="module")
def approved(hub: Hub) -> str:
    """A hub package the approver approved (its events consumed)."""
    arn = hub.register(f"approved-{uuid.uuid4().hex[:8]}")
    hub.registered.append(arn)  # type: ignore[attr-defined]
    hub.approver.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    hub.events_for(arn, expected=2)
    return arn


def _error(call: Any, *args: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    return info.value.response["Error"]  # type: ignore[return-value]


def test_register_versions_in_aws_shape(hub: Hub) -> None:
    run = f"shape-{uuid.uuid4().hex[:8]}"
    token = uuid.uuid4().hex
    first = hub.register(run, ClientToken=token)
    hub.registered.append(first)  # type: ignore[attr-defined]
    again = hub.register(run, ClientToken=token)  # idempotent: same package, no new version
    second = hub.register(f"{run}-b")
    hub.registered.append(second)  # type: ignore[attr-defined]
    assert len(hub.events_for(second, expected=1)) == 1
    assert again == first
    v1, v2 = (int(a.rsplit("/", 1)[1]) for a in (first, second))
    assert first == f"arn:aws:sagemaker:us-east-1:{HUB}:model-package/{GROUP}/{v1}"
    assert v2 == v1 + 1
    described = hub.orchestrator.describe_model_package(ModelPackageName=first)
    assert described["ModelPackageName"] == GROUP
    assert described["ModelPackageGroupName"] == GROUP
    assert described["ModelPackageVersion"] == v1
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ModelPackageStatus"] == "Completed"
    assert described["InferenceSpecification"] == _spec(run)
    assert described["CustomerMetadataProperties"] == {"git_revision": "abc123", "dag_run": run}
    assert described["MetadataProperties"]["GeneratedBy"].endswith(f"run/{run}")
    assert described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith(f"{run}.json")
    assert described["CreatedBy"]["IamIdentity"]["Arn"].endswith(
        "assumed-role/hubspoke-orchestrator/registry"
    )
    created = hub.events_for(first, expected=1)
    assert [e["detail"]["ModelApprovalStatus"] for e in created] == ["PendingManualApproval"]


def test_approval_puts_exactly_one_state_change_on_the_hub_queue(hub: Hub) -> None:
    arn = hub.register(f"approve-{uuid.uuid4().hex[:8]}")
    hub.registered.append(arn)  # type: ignore[attr-defined]
    assert len(hub.events_for(arn, expected=1)) == 1  # the registration's own event
    hub.approver.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="metrics ok"
    )
    (event,) = hub.events_for(arn, expected=1)
    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == "SageMaker Model Package State Change"
    assert (event["account"], event["region"], event["resources"]) == (HUB, "us-east-1", [arn])
    detail = event["detail"]
    assert detail["ModelPackageGroupName"] == GROUP
    assert detail["ModelPackageArn"] == arn
    assert detail["ModelPackageVersion"] == int(arn.rsplit("/", 1)[1])
    assert detail["ModelApprovalStatus"] == "Approved"
    assert detail["ApprovalDescription"] == "metrics ok"
    assert isinstance(detail["CreationTime"], int)
    assert detail["LastModifiedBy"]["IamIdentity"]["Arn"].endswith("hubspoke-approver/alice")
    described = hub.orchestrator.describe_model_package(ModelPackageName=arn)
    assert described["ApprovalDescription"] == "metrics ok"
    assert described["CustomerMetadataProperties"]["git_revision"] == "abc123"  # kept
    assert described["LastModifiedBy"] == detail["LastModifiedBy"]


def test_invalid_approval_status_is_a_validation_exception(
    hub: Hub, localcloud: LocalCloud
) -> None:
    arn = hub.register(f"invalid-{uuid.uuid4().hex[:8]}")
    hub.registered.append(arn)  # type: ignore[attr-defined]
    hub.events_for(arn, expected=1)
    root = localcloud.client("sagemaker", localcloud.root_session(HUB))
    error = _error(root.update_model_package, ModelPackageArn=arn, ModelApprovalStatus="Maybe")
    assert error["Code"] == "ValidationException"
    assert "'Maybe' at 'modelApprovalStatus'" in error["Message"]
    assert hub.events_for(arn, expected=0, wait=0.5) == []


def test_staging_reads_the_hub_package_by_arn(hub: Hub, approved: str) -> None:
    staging = hub.deployer("staging")
    described = staging.describe_model_package(ModelPackageName=approved)
    assert (described["ModelPackageArn"], described["ModelApprovalStatus"]) == (
        approved,
        "Approved",
    )
    listed = staging.list_model_packages(
        ModelPackageGroupName=GROUP_ARN, ModelApprovalStatus="Approved"
    )["ModelPackageSummaryList"]
    assert approved in [p["ModelPackageArn"] for p in listed]
    assert {p["ModelPackageGroupName"] for p in listed} == {GROUP}
    group = staging.describe_model_package_group(ModelPackageGroupName=GROUP_ARN)
    assert group["ModelPackageGroupArn"] == GROUP_ARN


def test_staging_discovers_the_shared_group(hub: Hub) -> None:
    staging = hub.deployer("staging")
    shared = staging.list_model_package_groups(CrossAccountFilterOption="CrossAccount")
    assert GROUP_ARN in [g["ModelPackageGroupArn"] for g in shared["ModelPackageGroupSummaryList"]]
    own = staging.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert GROUP_ARN not in [g["ModelPackageGroupArn"] for g in own]


def test_prod_creates_a_model_from_the_hub_package(hub: Hub, approved: str) -> None:
    prod = hub.deployer("prod")
    name = f"registry-test-{uuid.uuid4().hex[:8]}"
    created = prod.create_model(
        ModelName=name,
        ExecutionRoleArn=ACCOUNTS.execution_role_arn("prod"),
        PrimaryContainer={"ModelPackageName": approved},
    )
    assert created["ModelArn"].startswith(f"arn:aws:sagemaker:us-east-1:{PROD}:model/")
    try:
        container = prod.describe_model(ModelName=name)["PrimaryContainer"]
        spec = hub.orchestrator.describe_model_package(ModelPackageName=approved)
        source = spec["InferenceSpecification"]["Containers"][0]
        assert container["ModelPackageName"] == approved
        assert container["Image"] == source["Image"]
        assert container["ModelDataUrl"] == source["ModelDataUrl"]
        again = _error(
            prod.create_model,
            ModelName=name,
            ExecutionRoleArn=ACCOUNTS.execution_role_arn("prod"),
            PrimaryContainer={"ModelPackageName": approved},
        )
        assert again["Code"] == "ValidationException"
        assert "Cannot create already existing model" in again["Message"]
    finally:
        prod.delete_model(ModelName=name)


def test_create_model_refuses_missing_and_pending_packages(hub: Hub) -> None:
    prod = hub.deployer("prod")
    missing = f"arn:aws:sagemaker:us-east-1:{HUB}:model-package/{GROUP}/99999"
    pending = hub.register(f"pending-{uuid.uuid4().hex[:8]}")
    hub.registered.append(pending)  # type: ignore[attr-defined]
    hub.events_for(pending, expected=1)
    for package, words in ((missing, "does not exist"), (pending, "must be Approved")):
        error = _error(
            prod.create_model,
            ModelName=f"registry-test-{uuid.uuid4().hex[:8]}",
            ExecutionRoleArn=ACCOUNTS.execution_role_arn("prod"),
            PrimaryContainer={"ModelPackageName": package},
        )
        assert error["Code"] == "ValidationException"
        assert package in error["Message"] and words in error["Message"]
    error = _error(hub.deployer("staging").describe_model_package, ModelPackageName=missing)
    assert (error["Code"], error["Message"]) == (
        "ValidationException",
        f"Model package {missing} does not exist.",
    )


def test_an_account_outside_the_organization_is_denied(
    localcloud: LocalCloud, approved: str
) -> None:
    outsider = localcloud.client("sagemaker", localcloud.root_session(OUTSIDER))
    error = _error(outsider.describe_model_package, ModelPackageName=approved)
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"].startswith(
        f"User: arn:aws:iam::{OUTSIDER}:root is not authorized to perform: "
        f"sagemaker:DescribeModelPackage on resource: {approved}"
    )


def test_create_pipeline_rejects_what_is_not_a_definition(hub: Hub) -> None:
    dev = hub.deployer("dev")
    role = ACCOUNTS.execution_role_arn("dev")
    for junk, words in (
        ("not json", "not valid JSON"),
        (json.dumps({"Version": "2020-12-01", "Steps": [{"Name": "Train"}]}), "Type"),
        (json.dumps({"Steps": []}), "Version"),
    ):
        error = _error(
            dev.create_pipeline,
            PipelineName=f"registry-test-{uuid.uuid4().hex[:8]}",
            PipelineDefinition=junk,
            RoleArn=role,
        )
        assert error["Code"] == "ValidationException"
        assert words in error["Message"]
    good = {"Version": "2020-12-01", "Parameters": [], "Steps": [{"Name": "A", "Type": "Fail"}]}
    name = f"registry-test-{uuid.uuid4().hex[:8]}"
    dev.create_pipeline(PipelineName=name, PipelineDefinition=json.dumps(good), RoleArn=role)
    error = _error(dev.update_pipeline, PipelineName=name, PipelineDefinition="[]")
    assert error["Code"] == "ValidationException"
    assert json.loads(dev.describe_pipeline(PipelineName=name)["PipelineDefinition"]) == good
