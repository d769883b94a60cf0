"""Waiting for an endpoint change to settle (create, update, blue/green bake, rollback)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

SETTLED = {"InService", "Failed", "OutOfService"}


class EndpointSettledTrigger(BaseTrigger):
    """Fires with the endpoint's final status once it stops Creating/Updating/RollingBack."""

    def __init__(
        self,
        endpoint_name: str,
        aws_conn_id: str,
        poll_interval: float = 15.0,
        max_attempts: int = 480,
    ) -> None:
        super().__init__()
        self.endpoint_name = endpoint_name
        self.aws_conn_id = aws_conn_id
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__name__}",
            {
                "endpoint_name": self.endpoint_name,
                "aws_conn_id": self.aws_conn_id,
                "poll_interval": self.poll_interval,
                "max_attempts": self.max_attempts,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        hook = SageMakerHook(aws_conn_id=self.aws_conn_id)
        async with await hook.get_async_conn() as client:
            for _ in range(self.max_attempts):
                described = await client.describe_endpoint(EndpointName=self.endpoint_name)
                status = described["EndpointStatus"]
                if status in SETTLED:
                    yield TriggerEvent({"status": status, "endpoint": self.endpoint_name})
                    return
                await asyncio.sleep(self.poll_interval)
        yield TriggerEvent({"status": "Timeout", "endpoint": self.endpoint_name})
