"""The "SageMaker Model Package State Change" events SageMaker sends to EventBridge.

SageMaker puts one on the default event bus of the account that owns the package whenever a
version is created or updated (its approval status above all). localcloud puts it through
moto's EventBridge backend in-process, so the rules bootstrapped from ``infra/`` match it and
deliver it to their targets (the hub's SQS queue) as AWS would.
"""

from __future__ import annotations

import copy
import time
import uuid
from typing import TYPE_CHECKING, Any, cast

from moto.events.models import events_backends

from localcloud.sagemaker.registry_shapes import epoch_seconds, owner_account

if TYPE_CHECKING:
    from datetime import datetime

    from moto.events.utils import EventMessageType
    from moto.sagemaker.models import ModelPackage

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"


def _millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(epoch_seconds(moment) * 1000)


def state_change_detail(package: ModelPackage) -> dict[str, Any]:
    """The event's ``detail``: the package as DescribeModelPackage shows it, times in ms."""
    versioned = package.model_package_version is not None
    detail: dict[str, Any] = {
        "ModelPackageGroupName": package.model_package_group_name if versioned else None,
        "ModelPackageVersion": package.model_package_version,
        "ModelPackageArn": package.arn,
        "ModelPackageName": package.model_package_group_name
        if versioned
        else package.model_package_name,
        "ModelPackageDescription": package.model_package_description,
        "CreationTime": _millis(package.creation_time),
        "InferenceSpecification": package.inference_specification,
        "ModelPackageStatus": package.model_package_status,
        "ModelApprovalStatus": package.model_approval_status,
        "ApprovalDescription": package.approval_description,
        "MetadataProperties": package.metadata_properties,
        "ModelMetrics": package.model_metrics,
        "CustomerMetadataProperties": package.customer_metadata_properties or None,
        "CertifyForMarketplace": bool(package.certify_for_marketplace),
        "CreatedBy": package.created_by,
        "LastModifiedTime": _millis(package.last_modified_time),
        "LastModifiedBy": package.last_modified_by,
    }
    return {k: v for k, v in detail.items() if v is not None}


def emit_state_change(package: ModelPackage) -> str:
    """Put one state-change event for ``package`` on its account's default bus; its ID.

    The event is matched against the bus's enabled rules by moto. A target without an input
    transformer receives the whole event, as on AWS (moto's own ``put_events`` drops
    ``account`` from what it delivers, so the envelope is built here).
    """
    region = package.arn.split(":")[3]
    account = owner_account(package)
    bus = events_backends[account][region].describe_event_bus("default")
    event: dict[str, Any] = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": account,
        "time": time.time(),  # moto renders it as ISO 8601 when delivering
        "region": region,
        "resources": [package.arn],
        "detail": state_change_detail(package),
    }
    for rule in list(bus.rules.values()):
        if rule.state != "ENABLED":
            continue
        whole = not any(target.get("InputTransformer") for target in rule.targets)
        rule.send_to_targets(
            cast("EventMessageType", copy.deepcopy(event)), transform_input=not whole
        )
    return str(event["id"])
