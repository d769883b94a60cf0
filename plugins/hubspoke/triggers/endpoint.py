"""Waiting for an endpoint change to settle (create, update, blue/green bake, rollback)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

SETTLED = {"InService", "Failed", "OutOfService", "UpdateRollbackFailed"}
DEFAULT_TIMEOUT_SECONDS = 40 * 60.0


class EndpointSettledTrigger(BaseTrigger):
    """Fires with the endpoint's final status once it stops Creating/Updating/RollingBack.

    ``timeout_seconds`` bounds the wait (the operator derives it from the deployment's
    strategy); the deadline is fixed when the trigger is made and kept through serialization,
    so a restarted triggerer does not wait afresh. When it passes, the event's status is
    ``Timeout`` with ``last_status`` and ``waited_seconds``; an endpoint that disappears gives
    ``Deleted``."""

    def __init__(
        self,
        endpoint_name: str,
        aws_conn_id: str,
        poll_interval: float = 15.0,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        deadline: float | None = None,
        max_attempts: int | None = None,
    ) -> None:
        super().__init__()
        self.endpoint_name = endpoint_name
        self.aws_conn_id = aws_conn_id
        self.poll_interval = poll_interval
        if max_attempts is not None:  # as serialized by earlier releases: a number of polls
            timeout_seconds = max_attempts * poll_interval
        self.timeout_seconds = float(timeout_seconds)
        self.deadline = float(deadline) if deadline is not None else time.time() + timeout_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__name__}",
            {
                "endpoint_name": self.endpoint_name,
                "aws_conn_id": self.aws_conn_id,
                "poll_interval": self.poll_interval,
                "timeout_seconds": self.timeout_seconds,
                "deadline": self.deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
        from botocore.exceptions import ClientError

        hook = SageMakerHook(aws_conn_id=self.aws_conn_id)
        status = "unknown"
        async with await hook.get_async_conn() as client:
            while True:
                try:
                    described = await client.describe_endpoint(EndpointName=self.endpoint_name)
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "ValidationException":
                        raise
                    yield TriggerEvent({"status": "Deleted", "endpoint": self.endpoint_name})
                    return
                status = described["EndpointStatus"]
                if status in SETTLED:
                    yield TriggerEvent({"status": status, "endpoint": self.endpoint_name})
                    return
                left = self.deadline - time.time()
                if left <= 0:
                    break
                await asyncio.sleep(min(self.poll_interval, left))
        yield TriggerEvent(
            {
                "status": "Timeout",
                "endpoint": self.endpoint_name,
                "last_status": status,
                "waited_seconds": self.timeout_seconds,
            }
        )
