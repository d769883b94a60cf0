"""A pipeline execution: the definition's steps run in dependency order on a background thread.

Dependencies are a step's ``DependsOn`` plus every step its arguments refer to (``Get
Steps.X...``, property files); steps of a ``Condition`` step's branches run only when that
branch is taken. Independent steps run at the same time. Processing and training steps start
real jobs through a :class:`JobService`; ``Condition`` and ``Fail`` are evaluated here. Any
step type or expression this interpreter does not know fails the execution, naming it.
"""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from localcloud.runtime import interpreter as expr

STEP_FAILURE = "Step failure: One or multiple steps failed."
_JOB_KINDS = {"Processing": "processing", "Training": "training"}
_NAME_KEYS = {"processing": "ProcessingJobName", "training": "TrainingJobName"}


class JobService(Protocol):
    """How an execution starts and follows jobs (as the pipeline's role) and reads S3."""

    def start_job(self, kind: str, request: dict[str, Any]) -> str:
        """Create the job; return its ARN. Raises with the caller-facing reason on refusal."""

    def wait_job(self, arn: str) -> tuple[str, str | None, dict[str, Any]]:
        """Block until the job ends: (status, failure reason, Describe response)."""

    def stop_job(self, arn: str) -> None:
        """Stop a running job."""

    def read_json(self, uri: str) -> Any:
        """The parsed JSON document at an S3 URI."""


@dataclass
class StepRun:
    """One step of an execution, in the shape ListPipelineExecutionSteps reports."""

    name: str
    type: str
    status: str = "Executing"
    start_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    end_time: datetime | None = None
    failure_reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    job_arn: str | None = None


def typed_parameters(
    declared: list[dict[str, Any]], overrides: list[dict[str, str]] | None
) -> dict[str, Any]:
    """Parameter values by name: defaults, then overrides converted to the declared type."""
    types = {p["Name"]: p.get("Type", "String") for p in declared}
    values = {p["Name"]: p.get("DefaultValue") for p in declared}
    for item in overrides or []:
        name, text = item["Name"], item["Value"]
        if name not in types:
            raise ValueError(f"Parameter {name} is not defined in the pipeline definition")
        try:
            if types[name] == "Integer":
                values[name] = int(text)
            elif types[name] == "Float":
                values[name] = float(text)
            elif types[name] == "Boolean":
                values[name] = str(text).lower() == "true"
            else:
                values[name] = text
        except ValueError:
            raise ValueError(f"Parameter {name} must be of type {types[name]}: {text!r}") from None
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise ValueError(f"Parameters without default need a value: {', '.join(missing)}")
    return values


def _all_steps(steps: list[dict[str, Any]], parent: str | None, into: dict[str, Any]) -> None:
    for step in steps:
        into[step["Name"]] = (step, parent)
        if step.get("Type") == "Condition":
            arguments = step.get("Arguments", {})
            branches = arguments.get("IfSteps", []) + arguments.get("ElseSteps", [])
            _all_steps(branches, step["Name"], into)


class Execution:
    """One running or finished execution of ``definition``."""

    def __init__(
        self,
        arn: str,
        definition: Mapping[str, Any],
        parameters: dict[str, Any],
        jobs: JobService,
        pipeline_arn: str,
    ) -> None:
        self.arn = arn
        self.execution_id = arn.rsplit("/", 1)[-1]
        self.definition = definition
        self.parameters = parameters
        self.jobs = jobs
        self.status = "Executing"
        self.failure_reason: str | None = None
        self.start_time = datetime.now(UTC)
        self.end_time: datetime | None = None
        self.steps: dict[str, StepRun] = {}
        self.execution_vars = {
            "PipelineExecutionId": self.execution_id,
            "PipelineExecutionArn": arn,
            "PipelineName": pipeline_arn.rsplit("/", 1)[-1],
            "PipelineArn": pipeline_arn,
            "StartDateTime": self.start_time.isoformat(timespec="milliseconds"),
        }
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.done = threading.Event()

    # -- public ------------------------------------------------------------------------------

    def start(self) -> None:
        threading.Thread(
            target=self._run, name=f"execution-{self.execution_id}", daemon=True
        ).start()

    def stop(self) -> None:
        """Stop: no new step starts and running jobs are killed; the execution ends Stopped."""
        if self.done.is_set():
            return
        self._stop.set()
        with self._lock:
            self.status = "Stopping"
            running = [s for s in self.steps.values() if s.status == "Executing" and s.job_arn]
        for step in running:
            step.status = "Stopping"
            self.jobs.stop_job(step.job_arn or "")

    def scope(self) -> expr.Scope:
        finished = {name: s.properties for name, s in self.steps.items() if s.status == "Succeeded"}
        return expr.Scope(
            parameters=self.parameters,
            execution={
                **self.execution_vars,
                "CurrentDateTime": datetime.now(UTC).isoformat(timespec="milliseconds"),
            },
            steps=finished,
            read_property_file=self._property_file,
            read_json=self.jobs.read_json,
        )

    # -- scheduling --------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._schedule()
        except Exception as exc:  # an invalid definition or a localcloud bug fails the execution
            self._finish("Failed", f"localcloud could not run the definition: {exc}")

    def _schedule(self) -> None:
        catalog: dict[str, tuple[dict[str, Any], str | None]] = {}
        _all_steps(list(self.definition.get("Steps", [])), None, catalog)
        depends: dict[str, set[str]] = {}
        for name, (step, parent) in catalog.items():
            needs = set(step.get("DependsOn") or [])
            needs |= expr.step_references(step.get("Arguments", {}))
            needs |= {parent} if parent else set()
            unknown = needs - set(catalog)
            if unknown:
                raise ValueError(f"step {name} depends on unknown step(s) {sorted(unknown)}")
            depends[name] = needs
        enabled = {name for name, (_, parent) in catalog.items() if parent is None}
        running: dict[Future[None], str] = {}
        with ThreadPoolExecutor(max_workers=max(1, len(catalog))) as pool:
            while True:
                with self._lock:
                    succeeded = {n for n, s in self.steps.items() if s.status == "Succeeded"}
                    failed = any(s.status != "Succeeded" for s in self.steps.values() if s.end_time)
                    if not (failed or self._stop.is_set()):
                        for name in sorted(enabled - set(self.steps)):
                            if depends[name] <= succeeded:
                                step, _ = catalog[name]
                                self.steps[name] = StepRun(name, str(step.get("Type")))
                                running[pool.submit(self._run_step, step, enabled)] = name
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    running.pop(future)
        self._conclude()

    def _conclude(self) -> None:
        if self._stop.is_set():
            self._finish("Stopped", None)
            return
        failures = [s for s in self.steps.values() if s.status == "Failed"]
        if not failures:
            self._finish("Succeeded", None)
        elif failures[0].type == "Fail":
            self._finish("Failed", failures[0].failure_reason)
        else:
            self._finish(
                "Failed", f"{STEP_FAILURE} {failures[0].name}: {failures[0].failure_reason}"
            )

    def _finish(self, status: str, reason: str | None) -> None:
        with self._lock:
            for step in self.steps.values():
                if step.end_time is None:
                    step.status, step.end_time = "Stopped", datetime.now(UTC)
            self.status, self.failure_reason = status, reason
            self.end_time = datetime.now(UTC)
        self.done.set()

    # -- steps -------------------------------------------------------------------------------

    def _run_step(self, step: dict[str, Any], enabled: set[str]) -> None:
        run = self.steps[step["Name"]]
        try:
            status, reason = self._dispatch(step, run, enabled)
        except expr.ExpressionError as exc:
            status, reason = "Failed", f"localcloud cannot evaluate an expression: {exc}"
        except Exception as exc:  # a refused job (AccessDenied, validation) fails the step
            status, reason = "Failed", _reason(exc)
        with self._lock:
            if self._stop.is_set() and status != "Succeeded":
                status, reason = "Stopped", None
            run.status, run.failure_reason, run.end_time = status, reason, datetime.now(UTC)

    def _dispatch(
        self, step: dict[str, Any], run: StepRun, enabled: set[str]
    ) -> tuple[str, str | None]:
        kind = step.get("Type")
        arguments = step.get("Arguments", {})
        if kind in _JOB_KINDS:
            return self._job_step(step, run, _JOB_KINDS[str(kind)])
        if kind == "Condition":
            outcome = all(
                expr.evaluate_condition(c, self.scope()) for c in arguments.get("Conditions", [])
            )
            branch = arguments.get("IfSteps" if outcome else "ElseSteps", [])
            with self._lock:
                enabled.update(s["Name"] for s in branch)
            run.metadata = {"Condition": {"Outcome": "True" if outcome else "False"}}
            run.properties = {"Outcome": outcome}
            return "Succeeded", None
        if kind == "Fail":
            message = expr.as_text(expr.resolve(arguments.get("ErrorMessage", ""), self.scope()))
            run.metadata = {"Fail": {"ErrorMessage": message}}
            return "Failed", message
        return "Failed", f"localcloud does not run pipeline steps of type {kind!r}"

    def _job_step(self, step: dict[str, Any], run: StepRun, kind: str) -> tuple[str, str | None]:
        request = expr.resolve(step.get("Arguments", {}), self.scope())
        suffix = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(10))
        prefix = f"pipelines-{self.execution_id}-{step['Name']}"[: 63 - 11]
        request[_NAME_KEYS[kind]] = f"{prefix}-{suffix}"
        arn = self.jobs.start_job(kind, request)
        run.job_arn = arn
        run.metadata = {"ProcessingJob" if kind == "processing" else "TrainingJob": {"Arn": arn}}
        if self._stop.is_set():
            self.jobs.stop_job(arn)
        status, reason, described = self.jobs.wait_job(arn)
        run.properties = {
            **described,
            "PropertyFiles": {f["PropertyFileName"]: f for f in step.get("PropertyFiles", [])},
        }
        if status == "Completed":
            return "Succeeded", None
        return ("Stopped", None) if status == "Stopped" else ("Failed", reason)

    def _property_file(self, ref: expr.PropertyFileRef) -> Any:
        properties = self.steps[ref.step].properties
        declared = properties.get("PropertyFiles", {}).get(ref.name)
        if declared is None:
            raise expr.ExpressionError(f"step {ref.step} declares no property file {ref.name}")
        outputs = properties.get("ProcessingOutputConfig", {}).get("Outputs", [])
        output = expr.select(outputs, declared["OutputName"], f"property file {ref.name}")
        uri = f"{output['S3Output']['S3Uri'].rstrip('/')}/{declared['FilePath']}"
        return self.jobs.read_json(uri)


def _reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"ClientError: {response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return str(exc)
