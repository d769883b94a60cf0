"""Waiting for a model package's approval in the hub registry.

The Amazon provider has no approval sensor, trigger or waiter; this trigger polls
``DescribeModelPackage`` with the async client of the hub connection and fires once the status
is ``Approved`` or ``Rejected`` (with the approver's description).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

TERMINAL = {"Approved": "approved", "Rejected": "rejected"}


def approval_event(described: dict[str, Any]) -> dict[str, Any] | None:
    """The trigger event for a DescribeModelPackage answer, or None while still pending."""
    status = described.get("ModelApprovalStatus")
    if status not in TERMINAL:
        return None
    modified_by = described.get("LastModifiedBy") or {}
    return {
        "status": TERMINAL[status],
        "package_arn": described["ModelPackageArn"],
        "version": described.get("ModelPackageVersion"),
        "description": described.get("ApprovalDescription", ""),
        "approver": modified_by.get("UserProfileName")
        or modified_by.get("IamIdentity", {}).get("Arn", ""),
    }


class ModelPackageApprovalTrigger(BaseTrigger):
    """Fires ``approved`` or ``rejected`` for ``package_arn`` (serialises primitives only)."""

    def __init__(
        self,
        package_arn: str,
        aws_conn_id: str = "aws_hub",
        poll_interval: float = 30.0,
        region_name: str | None = None,
    ) -> None:
        super().__init__()
        self.package_arn = package_arn
        self.aws_conn_id = aws_conn_id
        self.poll_interval = poll_interval
        self.region_name = region_name

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__name__}",
            {
                "package_arn": self.package_arn,
                "aws_conn_id": self.aws_conn_id,
                "poll_interval": self.poll_interval,
                "region_name": self.region_name,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        hook = SageMakerHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
        async with await hook.get_async_conn() as client:
            while True:
                described = await client.describe_model_package(ModelPackageName=self.package_arn)
                event = approval_event(described)
                if event is not None:
                    yield TriggerEvent(event)
                    return
                self.log.info(
                    "%s is %s; checking again in %ss",
                    self.package_arn,
                    described.get("ModelApprovalStatus"),
                    self.poll_interval,
                )
                await asyncio.sleep(self.poll_interval)
