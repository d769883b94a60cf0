"""Pipeline executions that run: Start, Describe, List, ListSteps and Stop.

moto stores pipelines and execution records; StartPipelineExecution here also starts an
:class:`~localcloud.runtime.executions.Execution` interpreting the stored definition. Its
jobs are created as SageMaker Pipelines creates them: with the pipeline's role (a session of
it, as if SageMaker had assumed it), through localcloud's endpoint, so SCPs and the role's
policies apply to every step's CreateProcessingJob/CreateTrainingJob.

StartPipelineExecution checks PipelineExecutionDisplayName against the pattern and length of
SageMaker's API model and refuses a bad one with AWS's ValidationException wording;
ListPipelineExecutions filters by creation time, sorts and pages as SageMaker does.
"""

from __future__ import annotations

import json
import re
import threading
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from moto.sagemaker.models import sagemaker_backends

from localcloud.protocol import error_response
from localcloud.runtime import s3_staging
from localcloud.runtime.executions import Execution, typed_parameters
from localcloud.sagemaker.jobs_api import (
    cannot_assume_message,
    job_runner,
    ok,
    sagemaker_may_assume,
    validation_error,
)
from localcloud.sagemaker.registry_shapes import epoch_seconds

if TYPE_CHECKING:
    from localcloud.credentials import Session
    from localcloud.protocol import AwsRequest
    from localcloud.server import LocalCloud

Response = tuple[int, dict[str, str], bytes]
Handler = Callable[["Session", "AwsRequest"], "Response | None"]

_EXECUTIONS: weakref.WeakKeyDictionary[LocalCloud, dict[str, Execution]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()

# PipelineExecutionDisplayName as SageMaker's API model declares it.
DISPLAY_NAME_PATTERN = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}"
DISPLAY_NAME_MAX = 82
DEFAULT_PAGE = 50


class PipelineRoleJobs:
    """The :class:`~localcloud.runtime.executions.JobService` of one execution."""

    def __init__(self, cloud: LocalCloud, role_arn: str, session_name: str) -> None:
        self.cloud = cloud
        session = cloud.credentials.issue_role_session(role_arn, session_name)
        self.sagemaker = cloud.client("sagemaker", session)
        self.s3 = cloud.client("s3", session)

    def start_job(self, kind: str, request: dict[str, Any]) -> str:
        if kind == "processing":
            return str(self.sagemaker.create_processing_job(**request)["ProcessingJobArn"])
        return str(self.sagemaker.create_training_job(**request)["TrainingJobArn"])

    def wait_job(self, arn: str) -> tuple[str, str | None, dict[str, Any]]:
        job = job_runner(self.cloud).get(arn)
        if job is None:
            raise RuntimeError(f"job {arn} is not running in localcloud")
        job.done.wait()
        described = dict(job.record.response_object)
        described.pop("Arn", None)
        return job.status, job.failure_reason, json.loads(json.dumps(described, default=str))

    def stop_job(self, arn: str) -> None:
        job = job_runner(self.cloud).get(arn)
        if job is not None:
            job_runner(self.cloud).stop(job)

    def read_json(self, uri: str) -> Any:
        return s3_staging.read_json(self.s3, uri)


def executions(cloud: LocalCloud) -> dict[str, Execution]:
    with _LOCK:
        return _EXECUTIONS.setdefault(cloud, {})


def _time(value: datetime | None) -> float | None:
    """Epoch seconds of an aware time or of moto's naive UTC."""
    return epoch_seconds(value) if value is not None else None


def display_name_problems(name: object) -> list[str]:
    """AWS's request validation of PipelineExecutionDisplayName, in its words."""
    if name is None:
        return []
    text = str(name)
    at = f"Value '{text}' at 'pipelineExecutionDisplayName' failed to satisfy constraint: Member"
    problems = []
    if not re.fullmatch(DISPLAY_NAME_PATTERN.lstrip("^"), text):
        problems.append(f"{at} must satisfy regular expression pattern: {DISPLAY_NAME_PATTERN}")
    if len(text) > DISPLAY_NAME_MAX:
        problems.append(f"{at} must have length less than or equal to {DISPLAY_NAME_MAX}")
    if not text:
        problems.append(f"{at} must have length greater than or equal to 1")
    return problems


def validation_errors(problems: list[str]) -> str:
    """Several request validation problems as AWS words them in one message."""
    count = len(problems)
    noun = "validation error" if count == 1 else "validation errors"
    return f"{count} {noun} detected: " + "; ".join(problems)


def _pipeline(session: Session, request: AwsRequest, name: str) -> Any:
    backend = sagemaker_backends[session.account][request.region]
    return backend.pipelines.get(name.rsplit("/", 1)[-1] if name.startswith("arn:") else name)


def _start(cloud: LocalCloud) -> Handler:
    def handle(session: Session, request: AwsRequest) -> Response | None:
        params = request.params
        problems = display_name_problems(params.get("PipelineExecutionDisplayName"))
        if problems:
            return validation_error(request, validation_errors(problems))
        pipeline = _pipeline(session, request, str(params.get("PipelineName", "")))
        if pipeline is None:
            return None  # moto words the "does not exist" error
        try:
            definition = json.loads(pipeline.pipeline_definition)
            parameters = typed_parameters(
                definition.get("Parameters", []), params.get("PipelineParameters")
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return validation_error(request, f"Cannot start the pipeline execution: {exc}")
        # SageMaker runs the steps as the pipeline's role: refused before any record exists.
        if not sagemaker_may_assume(
            cloud,
            pipeline.role_arn,
            account=session.account,
            region=request.region,
            source_arn=pipeline.arn,
        ):
            return validation_error(request, cannot_assume_message(pipeline.role_arn))
        backend = sagemaker_backends[session.account][request.region]
        arn = backend.start_pipeline_execution(
            pipeline.pipeline_name,
            params.get("PipelineExecutionDisplayName", ""),
            params.get("PipelineParameters") or [],
            params.get("PipelineExecutionDescription", ""),
            params.get("ParallelismConfiguration") or {},
            params.get("ClientRequestToken", ""),
        )["PipelineExecutionArn"]
        execution_id = arn.rsplit("/", 1)[-1]
        jobs = PipelineRoleJobs(cloud, pipeline.role_arn, f"SageMaker-{execution_id}")
        execution = Execution(arn, definition, parameters, jobs, pipeline.arn)
        record = pipeline.pipeline_executions[arn]
        record.pipeline_execution_status = "Executing"
        executions(cloud)[arn] = execution
        execution.start()
        return ok({"PipelineExecutionArn": arn})

    return handle


def _describe(cloud: LocalCloud) -> Handler:
    def handle(session: Session, request: AwsRequest) -> Response | None:
        arn = str(request.params.get("PipelineExecutionArn", ""))
        execution = executions(cloud).get(arn)
        if execution is None:
            return None
        pipeline_arn = str(execution.execution_vars["PipelineArn"])
        pipeline = _pipeline(session, request, pipeline_arn)
        if pipeline is None or arn not in pipeline.pipeline_executions:
            return None  # the pipeline was deleted, or is another account's: moto answers
        record = pipeline.pipeline_executions[arn]
        payload: dict[str, Any] = {
            "PipelineArn": pipeline_arn,
            "PipelineExecutionArn": arn,
            "PipelineExecutionDisplayName": record.pipeline_execution_display_name
            or execution.execution_id,
            "PipelineExecutionStatus": execution.status,
            "CreationTime": _time(record.creation_time),
            "LastModifiedTime": _time(execution.end_time or execution.start_time),
        }
        if record.pipeline_execution_description:
            payload["PipelineExecutionDescription"] = record.pipeline_execution_description
        if execution.failure_reason:
            payload["FailureReason"] = execution.failure_reason
        return ok(payload)

    return handle


def _list(cloud: LocalCloud) -> Handler:
    """ListPipelineExecutions with its filters (CreatedAfter, CreatedBefore), sort
    (CreationTime or PipelineExecutionArn, Descending by default) and pages."""

    def handle(session: Session, request: AwsRequest) -> Response | None:
        params = request.params
        pipeline = _pipeline(session, request, str(params.get("PipelineName", "")))
        if pipeline is None:
            return None
        after, before = params.get("CreatedAfter"), params.get("CreatedBefore")
        summaries = []
        for arn, record in list(pipeline.pipeline_executions.items()):
            created = _time(record.creation_time) or 0.0
            if (after is not None and created <= float(after)) or (
                before is not None and created >= float(before)
            ):
                continue
            execution = executions(cloud).get(arn)
            summary: dict[str, Any] = {
                "PipelineExecutionArn": arn,
                "StartTime": _time(record.start_time),
                "PipelineExecutionStatus": execution.status if execution else "Succeeded",
                "PipelineExecutionDisplayName": record.pipeline_execution_display_name
                or arn.rsplit("/", 1)[-1],
            }
            if record.pipeline_execution_description:
                summary["PipelineExecutionDescription"] = record.pipeline_execution_description
            if execution is not None and execution.failure_reason:
                summary["PipelineExecutionFailureReason"] = execution.failure_reason
            summaries.append((created, summary))
        descending = params.get("SortOrder", "Descending") == "Descending"
        if params.get("SortBy") == "PipelineExecutionArn":
            summaries.sort(key=lambda item: item[1]["PipelineExecutionArn"], reverse=descending)
        else:
            summaries.sort(key=lambda item: item[0], reverse=descending)
        start = int(params.get("NextToken") or 0)
        end = start + int(params.get("MaxResults") or DEFAULT_PAGE)
        page = [summary for _, summary in summaries[start:end]]
        payload: dict[str, Any] = {"PipelineExecutionSummaries": page}
        if end < len(summaries):
            payload["NextToken"] = str(end)
        return ok(payload)

    return handle


def _missing(arn: str, request: AwsRequest) -> Response:
    return error_response(
        "sagemaker",
        400,
        "ResourceNotFound",
        f"Pipeline execution {arn} does not exist.",
        request.request_id,
    )


def _list_steps(cloud: LocalCloud) -> Handler:
    def handle(session: Session, request: AwsRequest) -> Response | None:
        arn = str(request.params.get("PipelineExecutionArn", ""))
        execution = executions(cloud).get(arn)
        if execution is None:
            return _missing(arn, request)
        steps = []
        for step in list(execution.steps.values()):
            entry: dict[str, Any] = {
                "StepName": step.name,
                "StepDisplayName": step.name,
                "StartTime": _time(step.start_time),
                "StepStatus": step.status,
                "AttemptCount": 1,
                "Metadata": step.metadata,
            }
            if step.end_time is not None:
                entry["EndTime"] = _time(step.end_time)
            if step.failure_reason:
                entry["FailureReason"] = step.failure_reason
            steps.append(entry)
        ascending = request.params.get("SortOrder") == "Ascending"
        steps.sort(key=lambda s: s["StartTime"], reverse=not ascending)
        return ok({"PipelineExecutionSteps": steps})

    return handle


def _stop(cloud: LocalCloud) -> Handler:
    def handle(session: Session, request: AwsRequest) -> Response | None:
        arn = str(request.params.get("PipelineExecutionArn", ""))
        execution = executions(cloud).get(arn)
        if execution is None:
            return _missing(arn, request)
        if execution.done.is_set():
            return validation_error(
                request, f"Pipeline execution {arn} is {execution.status} and cannot be stopped."
            )
        execution.stop()
        return ok({"PipelineExecutionArn": arn})

    return handle


def register(cloud: LocalCloud) -> dict[str, Handler]:
    return {
        "StartPipelineExecution": _start(cloud),
        "DescribePipelineExecution": _describe(cloud),
        "ListPipelineExecutions": _list(cloud),
        "ListPipelineExecutionSteps": _list_steps(cloud),
        "StopPipelineExecution": _stop(cloud),
    }
