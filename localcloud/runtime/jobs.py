"""Processing and training jobs that really run: S3 in, the user script, S3 and logs out.

A job runs on its own thread. As SageMaker does, it acts with its execution role: a session
of that role (as if SageMaker had assumed it) signs every S3 and CloudWatch Logs call, sent
through localcloud's own endpoint, so a role that cannot read an input fails its job with
that AccessDenied as the ``FailureReason``. The script runs under the container contract of
:mod:`localcloud.runtime.contract`. Status lives on moto's job record, so Describe and List
answer from moto with what happened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcloud.runtime import entrypoints, s3_staging
from localcloud.runtime.contract import (
    DEFAULT_TIMEOUT_SECONDS,
    JobResult,
    container_to_local,
    run_processing_job,
    run_training_job,
)
from localcloud.runtime.job_logs import write_job_logs

log = logging.getLogger("localcloud.jobs")

ClientFactory = Callable[[str, str, str], Any]  # (service, role ARN, session name) → client

# How long the runner keeps a finished job (for Stop* to answer from it); moto keeps the job
# record itself, so Describe and List are not affected when the runner forgets one.
RETENTION_ENV = "LOCALCLOUD_JOB_RETENTION_SECONDS"
DEFAULT_RETENTION_SECONDS = 3600.0


def retention_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get(RETENTION_ENV, DEFAULT_RETENTION_SECONDS)))
    except ValueError:
        return DEFAULT_RETENTION_SECONDS


class JobStopped(Exception):
    """The job was stopped before its script ran."""


@dataclass
class Job:
    """One running or finished job; ``record`` is moto's object, updated as the job goes."""

    kind: str  # "processing" | "training"
    name: str
    request: dict[str, Any]
    record: Any
    workdir: Path
    done: threading.Event = field(default_factory=threading.Event)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    status: str = "InProgress"
    failure_reason: str | None = None
    finished_at: float | None = None  # time.monotonic() when it ended

    @property
    def pid_file(self) -> Path:
        return self.workdir / "pid"


def _now() -> datetime:
    return datetime.now(UTC)


def _set(job: Job, **fields: Any) -> None:
    prefix = "processing_job" if job.kind == "processing" else "training_job"
    for key, value in fields.items():
        setattr(job.record, key.replace("JOB", prefix), value)
    job.record.last_modified_time = _now()


class JobRunner:
    """Starts, stops and tracks jobs; ``client_for`` builds clients of the job's role.

    A finished job is kept for ``retention`` seconds (default: :data:`RETENTION_ENV`, else one
    hour), then forgotten when a later job starts, so a long-running localcloud does not grow
    with every job it ever ran."""

    def __init__(
        self,
        client_for: ClientFactory,
        python: str = sys.executable,
        retention: float | None = None,
    ) -> None:
        self.client_for = client_for
        self.python = python
        self.retention = retention_seconds() if retention is None else retention
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many jobs the runner tracks (running ones and recently finished ones)."""
        with self._lock:
            return len(self.jobs)

    def get(self, arn: str) -> Job | None:
        with self._lock:
            return self.jobs.get(arn)

    def prune(self) -> int:
        """Forget jobs that finished more than ``retention`` seconds ago; how many went."""
        cutoff = time.monotonic() - self.retention
        with self._lock:
            old = [
                arn
                for arn, job in self.jobs.items()
                if job.finished_at is not None and job.finished_at <= cutoff
            ]
            for arn in old:
                del self.jobs[arn]
        return len(old)

    def start(self, kind: str, request: dict[str, Any], record: Any) -> Job:
        self.prune()
        name = request["ProcessingJobName" if kind == "processing" else "TrainingJobName"]
        job = Job(kind, name, request, record, Path(tempfile.mkdtemp(prefix=f"lc-{name[:40]}-")))
        with self._lock:
            self.jobs[record.arn] = job
        if kind == "processing":
            _set(job, JOB_status="InProgress", processing_start_time=_now())
            job.record.processing_end_time = None
        else:
            _set(job, JOB_status="InProgress", secondary_status="Starting")
            job.record.training_start_time, job.record.training_end_time = _now(), None
            job.record.final_metric_data_list = []
            job.record.algorithm_specification = dict(request["AlgorithmSpecification"])
            job.record.secondary_status_transitions = []
        threading.Thread(target=self._run, args=(job,), name=f"job-{name}", daemon=True).start()
        return job

    def stop(self, job: Job) -> None:
        """Stop ``job``: its process group is killed; it ends ``Stopped``."""
        if job.done.is_set():
            return
        job.stop_requested.set()
        _set(job, JOB_status="Stopping")
        try:
            pid = int(job.pid_file.read_text())
        except (OSError, ValueError):
            return  # not started yet: the runner checks the flag before starting the script
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)

    def _run(self, job: Job) -> None:
        role = job.request["RoleArn"]
        s3 = self.client_for("s3", role, "SageMaker")
        result: JobResult | None = None
        try:
            if job.kind == "processing":
                result = self._processing(job, s3)
            else:
                result = self._training(job, s3)
            if job.stop_requested.is_set():
                status, reason = "Stopped", None
            elif result.succeeded:
                status, reason = "Completed", None
            else:
                status, reason = "Failed", result.failure_reason
        except JobStopped:
            status, reason = "Stopped", None
        except (s3_staging.S3StagingError, entrypoints.EntrypointError) as exc:
            status, reason = "Failed", str(exc)
        except Exception as exc:  # a localcloud bug must end the job, not leave it InProgress
            log.exception("job %s failed in localcloud", job.name)
            status, reason = "Failed", f"InternalServerError: {exc!r}"
        if result is not None:
            write_job_logs(self.client_for("logs", role, "SageMaker"), job.kind, job.name, result)
        job.status, job.failure_reason = status, reason
        end = "processing_end_time" if job.kind == "processing" else "training_end_time"
        _set(job, JOB_status=status, **{end: _now()})
        if reason:
            job.record.failure_reason = reason[:1024]
        if job.kind == "training":
            _set(job, secondary_status=status)
        shutil.rmtree(job.workdir, ignore_errors=True)
        job.finished_at = time.monotonic()
        job.done.set()
        log.info("job %s ended %s", job.name, status)

    def _launcher(self, job: Job) -> str:
        """A Python that records its pid (its process group) first, so the job can be stopped."""
        if job.stop_requested.is_set():
            raise JobStopped
        launcher = job.workdir / "python"
        launcher.write_text(
            "#!/bin/sh\n"
            f"echo $$ > {shlex.quote(str(job.pid_file))}\n"
            f'exec {shlex.quote(self.python)} "$@"\n'
        )
        launcher.chmod(0o755)
        return str(launcher)

    def _processing(self, job: Job, s3: Any) -> JobResult:
        request = job.request
        staged: dict[str, Path] = {}
        for item in request.get("ProcessingInputs") or []:
            s3_input = item.get("S3Input")
            if s3_input is None:
                raise entrypoints.EntrypointError(
                    f"input {item.get('InputName')}: only S3Input is supported locally"
                )
            # Host dirs are numbered, not named after the request's names, which may hold
            # anything ("../x" included); the container sees the input at its LocalPath.
            directory = job.workdir / "inputs" / str(len(staged))
            s3_staging.download_prefix(s3, s3_input["S3Uri"], directory)
            staged[s3_input["LocalPath"].rstrip("/")] = directory
        app = request.get("AppSpecification") or {}
        script = entrypoints.processing_script(app.get("ContainerEntrypoint") or [], staged)
        output_config = request.get("ProcessingOutputConfig") or {}
        outputs = {
            out["S3Output"]["LocalPath"]: job.workdir / "outputs" / str(index)
            for index, out in enumerate(output_config.get("Outputs", []))
        }
        limits = request.get("StoppingCondition") or {}
        result = run_processing_job(
            script,
            job.workdir / "job",
            inputs=staged,
            outputs=outputs,
            arguments=app.get("ContainerArguments") or [],
            env={**(request.get("Environment") or {}), "PROCESSING_JOB_NAME": job.name},
            python=self._launcher(job),
            timeout=float(limits.get("MaxRuntimeInSeconds", DEFAULT_TIMEOUT_SECONDS)),
        )
        if result.succeeded and not job.stop_requested.is_set():
            container_root = job.workdir / "job" / "opt" / "ml"
            for out in output_config.get("Outputs", []):
                # What the script left in its output dir was copied following symlinks; one
                # leading outside the job's /opt/ml would upload a file of the host.
                written = container_to_local(
                    out["S3Output"]["LocalPath"], job.workdir / "job", "/opt/ml/processing"
                )
                s3_staging.contained_files(
                    written, container_root, f"output {out.get('OutputName')}"
                )
            for out in output_config.get("Outputs", []):
                local = outputs[out["S3Output"]["LocalPath"]]
                kms = output_config.get("KmsKeyId")
                s3_staging.upload_dir(s3, local, out["S3Output"]["S3Uri"], kms)
        return result

    def _training(self, job: Job, s3: Any) -> JobResult:
        request = job.request
        _set(job, secondary_status="Downloading")
        channels: dict[str, Path] = {}
        for channel in request.get("InputDataConfig") or []:
            source = (channel.get("DataSource") or {}).get("S3DataSource")
            if source is None:
                raise entrypoints.EntrypointError(
                    f"channel {channel.get('ChannelName')}: only S3DataSource is supported"
                )
            directory = job.workdir / "channels" / str(len(channels))
            s3_staging.download_prefix(s3, source["S3Uri"], directory)
            channels[channel["ChannelName"]] = directory
        script = entrypoints.training_script(channels)
        _set(job, secondary_status="Training")
        limits = request.get("StoppingCondition") or {}
        model_dir = job.workdir / "model"
        result = run_training_job(
            script,
            job.workdir / "job",
            channels=channels,
            hyperparameters=request.get("HyperParameters") or {},
            output_dir=model_dir,
            env={**(request.get("Environment") or {}), "TRAINING_JOB_NAME": job.name},
            python=self._launcher(job),
            timeout=float(limits.get("MaxRuntimeInSeconds", DEFAULT_TIMEOUT_SECONDS)),
        )
        if result.succeeded and not job.stop_requested.is_set():
            _set(job, secondary_status="Uploading")
            output = request["OutputDataConfig"]
            destination = f"{output['S3OutputPath'].rstrip('/')}/{job.name}/output"
            s3_staging.upload_dir(s3, model_dir, destination, output.get("KmsKeyId"))
        return result
