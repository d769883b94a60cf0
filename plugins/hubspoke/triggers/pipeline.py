"""Waiting for a SageMaker pipeline execution to end.

Polls ``DescribePipelineExecution`` with the async client of the spoke connection and fires
with the final status (``Succeeded``, ``Failed``, ``Stopped``, ``CompletedWithFailures``) and
SageMaker's failure reason, or ``timeout`` once its deadline has passed. Unlike the provider's
waiter trigger it does not raise on a failed execution (the operator explains the failure
and decides that it is final), and it waits out throttling, expired sessions and connection
errors (see :mod:`hubspoke.triggers.polling`).
"""

from __future__ import annotations

from typing import Any

from hubspoke.triggers.polling import PollingTrigger

TERMINAL = frozenset({"Succeeded", "Failed", "Stopped", "CompletedWithFailures"})


def execution_event(described: dict[str, Any]) -> dict[str, Any] | None:
    """The trigger event for a DescribePipelineExecution answer, or None while it runs."""
    status = described.get("PipelineExecutionStatus")
    if status not in TERMINAL:
        return None
    return {
        "status": status,
        "execution_arn": described["PipelineExecutionArn"],
        "failure_reason": described.get("FailureReason") or "",
    }


class PipelineExecutionTrigger(PollingTrigger):
    """Fires once ``execution_arn`` has ended, or ``timeout`` past ``deadline`` (epoch
    seconds); serialises primitives only."""

    subject_argument = "execution_arn"

    def __init__(
        self,
        execution_arn: str,
        aws_conn_id: str = "aws_dev",
        poll_interval: float = 60.0,
        region_name: str | None = None,
        deadline: float | None = None,
    ) -> None:
        super().__init__(aws_conn_id, poll_interval, deadline, region_name)
        self.execution_arn = execution_arn
        self._last_progress: tuple[str, list[str]] | None = None

    async def check(self, client: Any) -> dict[str, Any] | None:
        described = await client.describe_pipeline_execution(
            PipelineExecutionArn=self.execution_arn
        )
        event = execution_event(described)
        if event is not None:
            return event
        listed = await client.list_pipeline_execution_steps(
            PipelineExecutionArn=self.execution_arn, SortOrder="Ascending"
        )
        running = [
            step["StepName"]
            for step in listed.get("PipelineExecutionSteps", [])
            if step.get("StepStatus") == "Executing"
        ]
        progress = (str(described.get("PipelineExecutionStatus")), running)
        if progress != self._last_progress:
            self.log.info(
                "%s is %s; running steps: %s",
                self.execution_arn,
                progress[0],
                ", ".join(running) or "none",
            )
            self._last_progress = progress
        return None

    def timeout_event(self) -> dict[str, Any]:
        return {"status": "timeout", "execution_arn": self.execution_arn, "failure_reason": ""}
