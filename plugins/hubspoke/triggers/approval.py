"""Waiting for a model package's approval in the hub registry.

The Amazon provider has no approval sensor, trigger or waiter; this trigger polls
``DescribeModelPackage`` with the async client of the hub connection and fires once the status
is ``Approved`` or ``Rejected`` (with the approver's description), or ``timeout`` once its
deadline has passed with the package still pending. Throttling, an expired session and
connection errors are waited out (see :mod:`hubspoke.triggers.polling`).
"""

from __future__ import annotations

from typing import Any

from hubspoke.triggers.polling import PollingTrigger

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


class ModelPackageApprovalTrigger(PollingTrigger):
    """Fires ``approved``, ``rejected`` or (past ``deadline``, epoch seconds) ``timeout`` for
    ``package_arn`` (serialises primitives only)."""

    subject_argument = "package_arn"

    def __init__(
        self,
        package_arn: str,
        aws_conn_id: str = "aws_hub",
        poll_interval: float = 30.0,
        region_name: str | None = None,
        deadline: float | None = None,
    ) -> None:
        super().__init__(aws_conn_id, poll_interval, deadline, region_name)
        self.package_arn = package_arn
        self._last_status: str | None = None

    async def check(self, client: Any) -> dict[str, Any] | None:
        described = await client.describe_model_package(ModelPackageName=self.package_arn)
        event = approval_event(described)
        if event is None:
            status = described.get("ModelApprovalStatus")
            if status != self._last_status:
                self.log.info(
                    "%s is %s; checking every %ss", self.package_arn, status, self.poll_interval
                )
                self._last_status = status
        return event

    def timeout_event(self) -> dict[str, Any]:
        return {"status": "timeout", "package_arn": self.package_arn, "deadline": self.deadline}
