"""A job's stdout and stderr to CloudWatch Logs, where SageMaker puts them.

Group ``/aws/sagemaker/ProcessingJobs`` or ``/aws/sagemaker/TrainingJobs``, stream
``<job-name>/algo-1-<epoch seconds>``. Written with the client given, which is signed as the
job's execution role (SageMaker writes job logs with that role's permissions, so a role
without ``logs:*`` on ``/aws/sagemaker/*`` gets no logs, and the job still runs).
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from localcloud.runtime.contract import JobResult

log = logging.getLogger("localcloud.jobs")

LOG_GROUPS = {
    "processing": "/aws/sagemaker/ProcessingJobs",
    "training": "/aws/sagemaker/TrainingJobs",
}
_BATCH = 1000  # well under PutLogEvents' 10,000 events and 1 MB per call


def stream_name(job_name: str, started: float | None = None) -> str:
    return f"{job_name}/algo-1-{int(started if started is not None else time.time())}"


def write_job_logs(logs: Any, kind: str, job_name: str, result: JobResult) -> str | None:
    """Write the job's output (stdout, then stderr) to its stream; the stream name, or None."""
    group = LOG_GROUPS[kind]
    stream = stream_name(job_name)
    now = int(time.time() * 1000)
    lines = [*result.stdout.splitlines(), *result.stderr.splitlines()]
    events = [{"timestamp": now, "message": line or " "} for line in lines]
    try:
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        for start in range(0, len(events), _BATCH):
            logs.put_log_events(
                logGroupName=group, logStreamName=stream, logEvents=events[start : start + _BATCH]
            )
    except Exception as exc:  # logs are best effort, as on SageMaker: the job's outcome stands
        log.warning("could not write logs of %s to %s: %s", job_name, group, exc)
        return None
    return stream
