"""``WaitForApprovalOperator``: wait (deferred) until a hub model package is approved."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from hubspoke.triggers.approval import ModelPackageApprovalTrigger, approval_event
from hubspoke.triggers.polling import duration_text, env_number

if TYPE_CHECKING:
    from airflow.sdk import Context

POLL_ENV = "HUBSPOKE_APPROVAL_POLL_SECONDS"
TIMEOUT_ENV = "HUBSPOKE_APPROVAL_TIMEOUT_HOURS"
DEFAULT_POLL_SECONDS = 30.0
DEFAULT_TIMEOUT_HOURS = 7 * 24.0


class PackageRejectedError(AirflowFailException):
    """The package was rejected: retrying cannot help, so the task fails at once."""


class ApprovalTimeoutError(AirflowFailException):
    """Nobody approved or rejected the package in time: the run gives up (without retries, so
    it stops holding back later promotions of the model)."""


def approval_poll_seconds() -> float:
    """``$HUBSPOKE_APPROVAL_POLL_SECONDS``, else 30 s."""
    return env_number(POLL_ENV, DEFAULT_POLL_SECONDS, "seconds")


def approval_timeout() -> timedelta:
    """``$HUBSPOKE_APPROVAL_TIMEOUT_HOURS``, else 7 days."""
    return timedelta(hours=env_number(TIMEOUT_ENV, DEFAULT_TIMEOUT_HOURS, "hours"))


class WaitForApprovalOperator(BaseOperator):
    """Succeeds with the approval details once ``package_arn`` is Approved; fails at once,
    without retries, with the approver's description when it is Rejected, or when it is
    still pending after ``wait_timeout``.

    ``poll_interval`` defaults to ``$HUBSPOKE_APPROVAL_POLL_SECONDS`` (30 s), ``wait_timeout``
    to ``$HUBSPOKE_APPROVAL_TIMEOUT_HOURS`` (7 days); both are read when the DAG is parsed."""

    template_fields: Sequence[str] = ("package_arn",)

    def __init__(
        self,
        *,
        package_arn: str,
        aws_conn_id: str = "aws_hub",
        poll_interval: float | None = None,
        wait_timeout: timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.package_arn = package_arn
        self.aws_conn_id = aws_conn_id
        self.poll_interval = approval_poll_seconds() if poll_interval is None else poll_interval
        self.wait_timeout = approval_timeout() if wait_timeout is None else wait_timeout

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        described = SageMakerHook(aws_conn_id=self.aws_conn_id).conn.describe_model_package(
            ModelPackageName=self.package_arn
        )
        event = approval_event(described)
        if event is not None:
            return self.execute_complete(context, event)
        self.log.info(
            "%s awaits approval; deferring (checking every %ss, for at most %s)",
            self.package_arn,
            self.poll_interval,
            duration_text(self.wait_timeout),
        )
        self.defer(
            trigger=ModelPackageApprovalTrigger(
                self.package_arn,
                self.aws_conn_id,
                self.poll_interval,
                deadline=time.time() + self.wait_timeout.total_seconds(),
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        arn = event["package_arn"]
        if event["status"] == "rejected":
            reason = event.get("description") or "no reason given"
            raise PackageRejectedError(f"{arn} was rejected: {reason}")
        if event["status"] == "timeout":
            raise ApprovalTimeoutError(
                f"{arn} was neither approved nor rejected within "
                f"{duration_text(self.wait_timeout)}, so this run stops waiting. Decide in the hub "
                f"registry (hubspoke approve|reject {arn} --reason TEXT): an approval starts "
                f"{self.dag_id} again through the model's approval event, or trigger it by hand "
                f"with package_arn={arn}. {TIMEOUT_ENV} sets how long a run waits."
            )
        self.log.info("%s approved by %s", arn, event.get("approver") or "?")
        return event
