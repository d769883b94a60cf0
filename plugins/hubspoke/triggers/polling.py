"""What hubspoke's waits share: settings from the environment, telling an AWS error that
passes (throttling, an expired session, a dropped connection) from one that will not, and a
polling trigger that rides out the first kind until its deadline.

A trigger that raises ends the wait and fails its task; on AWS a throttled call or a session
that expired while the trigger was polling is routine, so :class:`PollingTrigger` catches those,
logs them, backs off and polls again with a fresh client (fresh credentials, fresh
connection). Any other error is raised as before.
"""

from __future__ import annotations

import abc
import asyncio
import os
import random
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

# AWS error codes that mean "not now" rather than "no": throttling, a transient service fault,
# credentials that expired mid-wait (a new client fetches fresh ones).
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "PriorRequestNotComplete",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServerException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "IDPCommunicationError",
    }
)
MAX_BACKOFF_SECONDS = 300.0


def retryable(error: BaseException) -> bool:
    """Whether ``error`` is worth another try: a retryable AWS error code, an HTTP 5xx, or a
    connection problem (refused, reset, timed out)."""
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotocoreConnectionError

    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return code in RETRYABLE_CODES or status >= 500
    return isinstance(
        error, BotocoreConnectionError | HTTPClientError | ConnectionError | TimeoutError
    )


def describe_error(error: BaseException) -> str:
    """One line for the log: the AWS error code and message, or the exception."""
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        return f"{detail.get('Code', '?')}: {detail.get('Message', '')}".rstrip(": ")
    return f"{type(error).__name__}: {error}"


def backoff(failures: int, base: float, cap: float = MAX_BACKOFF_SECONDS) -> float:
    """Seconds to wait after ``failures`` passing errors in a row: doubling from ``base`` up
    to ``cap``, with jitter so many waits do not retry in step."""
    ceiling = min(cap, max(base, 1.0) * 2 ** max(failures - 1, 0))
    return ceiling * random.uniform(0.5, 1.0)


def duration_text(delta: timedelta) -> str:
    """``7 days``, ``24 h``, ``3.6 s``: a wait's length for messages."""
    seconds = delta.total_seconds()
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds / 86400:g} days"
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def env_number(name: str, default: float, unit: str) -> float:
    """A positive number from the environment variable ``name`` (``default`` when unset)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise ValueError(f"{name} must be a positive number of {unit}, not {text!r}")
    return value


class PollingTrigger(BaseTrigger):
    """Polls with the async SageMaker client of ``aws_conn_id`` every ``poll_interval``
    seconds until :meth:`check` returns an event, or fires :meth:`timeout_event` once the
    epoch time ``deadline`` (if any) has passed. Retryable errors are logged and waited out
    with backoff, with a new client for the next try; others end the trigger."""

    def __init__(
        self,
        aws_conn_id: str,
        poll_interval: float,
        deadline: float | None,
        region_name: str | None,
    ) -> None:
        super().__init__()
        self.aws_conn_id = aws_conn_id
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.region_name = region_name
        self._failures = 0

    # What a subclass provides.

    subject_argument: str = ""  # the name of the constructor argument that holds the subject

    @property
    def subject(self) -> str:
        """What is waited on, for log lines (the value of :attr:`subject_argument`)."""
        return str(getattr(self, self.subject_argument))

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__name__}",
            {
                self.subject_argument: self.subject,
                "aws_conn_id": self.aws_conn_id,
                "poll_interval": self.poll_interval,
                "region_name": self.region_name,
                "deadline": self.deadline,
            },
        )

    @abc.abstractmethod
    async def check(self, client: Any) -> dict[str, Any] | None:
        """One poll: the event to fire, or None to poll again."""

    @abc.abstractmethod
    def timeout_event(self) -> dict[str, Any]:
        """The event fired once ``deadline`` has passed."""

    # The loop.

    def _client(self) -> Any:
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        hook = SageMakerHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
        return hook.get_async_conn()

    def _remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.time()

    def _pause(self, seconds: float) -> float:
        """``seconds``, shortened so the wait ends at the deadline rather than past it."""
        remaining = self._remaining()
        return seconds if remaining is None else max(0.0, min(seconds, remaining))

    async def _poll(self, client: Any) -> dict[str, Any]:
        """Poll with ``client`` until there is an event (or the deadline has passed)."""
        while True:
            event = await self.check(client)
            self._failures = 0
            if event is not None:
                return event
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                return self.timeout_event()
            await asyncio.sleep(self._pause(self.poll_interval))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        self._failures = 0
        while True:
            event: dict[str, Any] | None = None
            try:
                async with await self._client() as client:
                    event = await self._poll(client)
            except Exception as error:
                if event is None:  # an error closing the client after the event does not count
                    if not retryable(error):
                        raise
                    self._failures += 1
                    delay = self._pause(backoff(self._failures, self.poll_interval))
                    self.log.warning(
                        "%s: %s (a passing error, %d in a row); trying again in %.1fs",
                        self.subject,
                        describe_error(error),
                        self._failures,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    remaining = self._remaining()
                    if remaining is None or remaining > 0:
                        continue
                    event = self.timeout_event()
            yield TriggerEvent(event)
            return
