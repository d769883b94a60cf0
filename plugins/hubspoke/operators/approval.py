"""``WaitForApprovalOperator``: wait (deferred) until a hub model package is approved."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from hubspoke.triggers.approval import ModelPackageApprovalTrigger, approval_event

if TYPE_CHECKING:
    from airflow.sdk import Context


class PackageRejectedError(AirflowFailException):
    """The package was rejected: retrying cannot help, so the task fails at once."""


class WaitForApprovalOperator(BaseOperator):
    """Succeeds with the approval details once ``package_arn`` is Approved; fails at once,
    without retries, with the approver's description when it is Rejected."""

    template_fields: Sequence[str] = ("package_arn",)

    def __init__(
        self,
        *,
        package_arn: str,
        aws_conn_id: str = "aws_hub",
        poll_interval: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.package_arn = package_arn
        self.aws_conn_id = aws_conn_id
        self.poll_interval = poll_interval

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        described = SageMakerHook(aws_conn_id=self.aws_conn_id).conn.describe_model_package(
            ModelPackageName=self.package_arn
        )
        event = approval_event(described)
        if event is not None:
            return self.execute_complete(context, event)
        self.log.info("%s awaits approval; deferring", self.package_arn)
        self.defer(
            trigger=ModelPackageApprovalTrigger(
                self.package_arn, self.aws_conn_id, self.poll_interval
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        if event["status"] == "rejected":
            reason = event.get("description") or "no reason given"
            raise PackageRejectedError(f"{event['package_arn']} was rejected: {reason}")
        self.log.info("%s approved by %s", event["package_arn"], event.get("approver") or "?")
        return event
