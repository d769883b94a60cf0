"""``RunPipelineOperator``: one SageMaker pipeline execution per DAG run, waited on deferred.

The provider's ``SageMakerStartPipelineOperator`` starts an execution on every try, so a
retried task trains again (and a wait cap shorter than the training starts a second one while
the first still runs). Here a DAG run owns exactly one execution, found again by its display
name and description:

- the first try starts it; a retry (after a lost worker, a restarted triggerer, an error of
  the wait) finds it with ``ListPipelineExecutions`` and waits on it instead of starting
  another, and takes over its result if it has already ended;
- a failed or stopped execution is final for the run: the task fails without retries, naming
  the failed step and SageMaker's reason (a retry would only repeat a deterministic failure
  such as a metric below the gate, at the price of another training);
- the wait is capped (``$HUBSPOKE_PIPELINE_TIMEOUT_HOURS``, 24 h by default, from the
  execution's creation, so retries do not extend it); past the cap the execution is stopped
  and the task fails.

The same code runs against AWS and localcloud; only the poll interval differs
(``$HUBSPOKE_PIPELINE_POLL_SECONDS``, 60 s by default, 2 s where hubspoke runs locally).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from hubspoke.triggers.pipeline import PipelineExecutionTrigger, execution_event
from hubspoke.triggers.polling import duration_text, env_number

if TYPE_CHECKING:
    from datetime import datetime

    from airflow.sdk import Context

POLL_ENV = "HUBSPOKE_PIPELINE_POLL_SECONDS"
TIMEOUT_ENV = "HUBSPOKE_PIPELINE_TIMEOUT_HOURS"
DEFAULT_POLL_SECONDS = 60.0
DEFAULT_TIMEOUT_HOURS = 24.0

# SageMaker's PipelineExecutionDisplayName: letters, digits and (not leading or trailing)
# hyphens, 1 to 82 characters.
DISPLAY_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}")
DISPLAY_NAME_MAX = 82
# How far before the DAG run's run_after its execution may appear to have been created
# (clock skew between Airflow and SageMaker); only bounds the search.
CLOCK_SKEW = timedelta(hours=1)


class PipelineFailedError(AirflowFailException):
    """The run's execution failed or was stopped: final, the task is not retried."""


class PipelineTimeoutError(AirflowFailException):
    """The run's execution outlasted the wait cap; it was stopped and the task is not retried."""


def pipeline_poll_seconds() -> float:
    """``$HUBSPOKE_PIPELINE_POLL_SECONDS``, else 60 s."""
    return env_number(POLL_ENV, DEFAULT_POLL_SECONDS, "seconds")


def pipeline_timeout() -> timedelta:
    """``$HUBSPOKE_PIPELINE_TIMEOUT_HOURS``, else 24 h."""
    return timedelta(hours=env_number(TIMEOUT_ENV, DEFAULT_TIMEOUT_HOURS, "hours"))


def execution_display_name(text: str) -> str:
    """``text`` as a valid PipelineExecutionDisplayName: unchanged when it already is one;
    otherwise every run of other characters becomes one hyphen, the result is cut to fit,
    and a digest of ``text`` is appended so that different texts (``a_b``, ``a.b``) never
    share a name."""
    if DISPLAY_NAME_PATTERN.fullmatch(text):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    cleaned = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-")
    head = cleaned[: DISPLAY_NAME_MAX - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}" if head else digest


def execution_description(dag_id: str, run_id: str) -> str:
    """The PipelineExecutionDescription of a DAG run's execution (it names the run exactly,
    where the display name may have had to change it)."""
    return f"Airflow {dag_id} run {run_id}"


def find_execution(
    sagemaker: Any, pipeline: str, display_name: str, description: str, since: datetime
) -> str | None:
    """The ARN of the newest execution of ``pipeline`` created after ``since`` with this
    display name and description, or None."""
    pages = sagemaker.get_paginator("list_pipeline_executions").paginate(
        PipelineName=pipeline,
        CreatedAfter=since,
        SortBy="CreationTime",
        SortOrder="Descending",
        PaginationConfig={"PageSize": 100},
    )
    for page in pages:
        for summary in page.get("PipelineExecutionSummaries", []):
            if (
                summary.get("PipelineExecutionDisplayName") == display_name
                and summary.get("PipelineExecutionDescription", "") == description
            ):
                return str(summary["PipelineExecutionArn"])
    return None


def failure_message(sagemaker: Any, event: dict[str, Any]) -> str:
    """What went wrong with the execution of ``event``, naming the failed steps."""
    arn, status = event["execution_arn"], event["status"]
    pages = sagemaker.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=arn, SortOrder="Ascending"
    )
    steps = [step for page in pages for step in page.get("PipelineExecutionSteps", [])]
    failed = [step for step in steps if step.get("StepStatus") == "Failed"]
    if failed:
        where = "; ".join(
            f"step {step['StepName']}: "
            + (
                step.get("FailureReason")
                or step.get("Metadata", {}).get("Fail", {}).get("ErrorMessage")
                or event.get("failure_reason")
                or "no reason given"
            )
            for step in failed
        )
        return f"Pipeline execution {arn} ended {status} at {where}"
    reason = event.get("failure_reason")
    if status == "Stopped":
        return f"Pipeline execution {arn} was stopped before it finished" + (
            f": {reason}" if reason else ""
        )
    return f"Pipeline execution {arn} ended {status}: {reason or 'no reason given'}"


class RunPipelineOperator(BaseOperator):
    """Runs ``pipeline_name`` once for the DAG run and returns the execution's ARN when it
    succeeded (see the module's docstring). ``display_name`` is made valid for SageMaker;
    ``poll_interval`` defaults to ``$HUBSPOKE_PIPELINE_POLL_SECONDS`` and ``wait_timeout`` to
    ``$HUBSPOKE_PIPELINE_TIMEOUT_HOURS``, both read when the DAG is parsed."""

    template_fields: Sequence[str] = ("pipeline_name", "display_name", "pipeline_params")

    def __init__(
        self,
        *,
        pipeline_name: str,
        display_name: str,
        pipeline_params: dict[str, Any] | None = None,
        aws_conn_id: str = "aws_dev",
        poll_interval: float | None = None,
        wait_timeout: timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline_name = pipeline_name
        self.display_name = display_name
        self.pipeline_params = pipeline_params
        self.aws_conn_id = aws_conn_id
        self.poll_interval = pipeline_poll_seconds() if poll_interval is None else poll_interval
        self.wait_timeout = pipeline_timeout() if wait_timeout is None else wait_timeout

    def _sagemaker(self) -> Any:
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        return SageMakerHook(aws_conn_id=self.aws_conn_id).conn

    def execute(self, context: Context) -> str:
        sagemaker = self._sagemaker()
        name = execution_display_name(self.display_name)
        run_id = context["run_id"]
        description = execution_description(self.dag_id, run_id)
        since = context["dag_run"].run_after - CLOCK_SKEW
        arn = find_execution(sagemaker, self.pipeline_name, name, description, since)
        if arn is not None:
            self.log.info(
                "This run already started %s (display name %s); waiting on it instead of "
                "starting another",
                arn,
                name,
            )
        else:
            parameters = [
                {"Name": key, "Value": str(value)}
                for key, value in (self.pipeline_params or {}).items()
            ]
            arn = str(
                sagemaker.start_pipeline_execution(
                    PipelineName=self.pipeline_name,
                    PipelineExecutionDisplayName=name,
                    PipelineExecutionDescription=description,
                    PipelineParameters=parameters,
                )["PipelineExecutionArn"]
            )
            self.log.info("Started %s (display name %s)", arn, name)
        described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        event = execution_event(described)
        if event is not None:
            return self.execute_complete(context, event)
        deadline = described["CreationTime"].timestamp() + self.wait_timeout.total_seconds()
        self.log.info(
            "Waiting for %s (checking every %ss, for at most %s from its start)",
            arn,
            self.poll_interval,
            duration_text(self.wait_timeout),
        )
        self.defer(
            trigger=PipelineExecutionTrigger(
                arn, self.aws_conn_id, self.poll_interval, deadline=deadline
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str:
        arn = str(event["execution_arn"])
        if event["status"] == "Succeeded":
            self.log.info("%s succeeded", arn)
            return arn
        sagemaker = self._sagemaker()
        if event["status"] == "timeout":
            self._stop(sagemaker, arn)
            raise PipelineTimeoutError(
                f"Pipeline execution {arn} was still running "
                f"{duration_text(self.wait_timeout)} after it started, so it was stopped. "
                f"If trainings of {self.pipeline_name} take that long, raise "
                f"{TIMEOUT_ENV}, then trigger {self.dag_id} again."
            )
        what = failure_message(sagemaker, event).rstrip(".")
        raise PipelineFailedError(
            f"{what}. This run does not train again (a retry would repeat the same pipeline); "
            f"fix the cause, then trigger {self.dag_id} again."
        )

    def _stop(self, sagemaker: Any, arn: str) -> None:
        from botocore.exceptions import ClientError

        try:
            sagemaker.stop_pipeline_execution(PipelineExecutionArn=arn)
            self.log.warning("Stopped %s: it outlasted the wait", arn)
        except ClientError as error:  # it may have ended meanwhile; the failure stands anyway
            self.log.warning("Could not stop %s: %s", arn, error)
