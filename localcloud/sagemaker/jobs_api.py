"""CreateProcessingJob / CreateTrainingJob that run, and their Stop operations.

moto keeps the job records (so Describe and List answer from moto); localcloud starts the
job on the local runtime and updates the record as it goes: ``InProgress`` → ``Completed``,
``Failed`` with a ``FailureReason``, or ``Stopped``.
"""

from __future__ import annotations

import json
import threading
import weakref
from typing import TYPE_CHECKING, Any

from moto.iam.models import iam_backends
from moto.sagemaker.models import sagemaker_backends

from hubspoke.iam import Request, evaluate
from localcloud.protocol import error_response
from localcloud.runtime.jobs import JobRunner

if TYPE_CHECKING:
    from collections.abc import Callable

    from localcloud.credentials import Session
    from localcloud.protocol import AwsRequest
    from localcloud.server import LocalCloud

Response = tuple[int, dict[str, str], bytes]

SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"
_TERMINAL = {"Completed", "Failed", "Stopped"}

_RUNNERS: weakref.WeakKeyDictionary[LocalCloud, JobRunner] = weakref.WeakKeyDictionary()
_RUNNERS_LOCK = threading.Lock()
_CREATE_LOCK = threading.Lock()

_REQUIRED = {
    "processing": ("ProcessingJobName", "RoleArn", "AppSpecification", "ProcessingResources"),
    "training": (
        "TrainingJobName",
        "RoleArn",
        "AlgorithmSpecification",
        "OutputDataConfig",
        "ResourceConfig",
        "StoppingCondition",
    ),
}


def job_runner(cloud: LocalCloud) -> JobRunner:
    """The one runner of ``cloud``'s jobs; its jobs act as their execution role."""
    with _RUNNERS_LOCK:
        runner = _RUNNERS.get(cloud)
        if runner is None:

            def client_for(service: str, role_arn: str, session_name: str) -> Any:
                session = cloud.credentials.issue_role_session(role_arn, session_name)
                return cloud.client(service, session)

            runner = JobRunner(client_for)
            _RUNNERS[cloud] = runner
        return runner


def ok(payload: dict[str, Any]) -> Response:
    return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(payload).encode()


def validation_error(
    request: AwsRequest, message: str, code: str = "ValidationException"
) -> Response:
    return error_response("sagemaker", 400, code, message, request.request_id)


def role_exists(role_arn: str) -> bool:
    parts = role_arn.split(":")
    if len(parts) < 6 or not parts[5].startswith("role/"):
        return False
    backend = iam_backends[parts[4]]["global"]
    return any(role.arn == role_arn for role in list(backend.roles.values()))


def cannot_assume_message(role_arn: str) -> str:
    """SageMaker's ValidationException when it cannot assume a role it is given."""
    return (
        f"Could not assume role {role_arn}. Please ensure that the role exists "
        f"and allows principal '{SAGEMAKER_PRINCIPAL}' to assume the role."
    )


def sagemaker_may_assume(
    cloud: LocalCloud, role_arn: str, *, account: str, region: str, source_arn: str
) -> bool:
    """Whether SageMaker, acting for ``source_arn`` of ``account``, may assume ``role_arn``.

    The role must exist and its trust policy must allow ``sts:AssumeRole`` to the principal
    ``{"Service": "sagemaker.amazonaws.com"}`` with the keys SageMaker sends
    (``aws:SourceAccount``, ``aws:SourceArn``), evaluated by the same engine and World as every
    request; a service principal is decided by the trust policy alone (SCPs do not apply).
    Without enforcement (``serve --no-enforce``) only existence is checked."""
    if not role_exists(role_arn):
        return False
    enforcer = cloud.enforcer
    if enforcer is None:
        return True
    decision = evaluate(
        enforcer.world(region),
        Request(
            principal=SAGEMAKER_PRINCIPAL,
            action="sts:AssumeRole",
            resource=role_arn,
            context={
                "aws:SourceAccount": account,
                "aws:SourceArn": source_arn,
                "aws:SecureTransport": True,
                "aws:RequestedRegion": region,
            },
        ),
    )
    return decision.allowed


def job_arn(kind: str, name: str, account: str, region: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:{kind}-job/{name.lower()}"


def _create(cloud: LocalCloud, kind: str) -> Callable[[Session, AwsRequest], Response | None]:
    def handle(session: Session, request: AwsRequest) -> Response | None:
        params = request.params
        missing = [key for key in _REQUIRED[kind] if not params.get(key)]
        if missing:
            return validation_error(request, f"Missing required parameter(s): {missing}")
        backend = sagemaker_backends[session.account][request.region]
        store: dict[str, Any]
        if kind == "processing":
            name, store = params["ProcessingJobName"], backend.processing_jobs
        else:
            name, store = params["TrainingJobName"], backend.training_jobs
        role_arn = str(params["RoleArn"])
        source_arn = job_arn(kind, str(name), session.account, request.region)
        if not sagemaker_may_assume(
            cloud, role_arn, account=session.account, region=request.region, source_arn=source_arn
        ):
            return validation_error(request, cannot_assume_message(role_arn))
        if kind == "training" and not params["OutputDataConfig"].get("S3OutputPath"):
            return validation_error(request, "OutputDataConfig.S3OutputPath is required")
        with _CREATE_LOCK:  # of two concurrent creates of one name, one makes the record
            if name in store:
                return validation_error(
                    request,
                    f"Job names must be unique within an AWS account and region, and a {kind} "
                    f"job with this name already exists ({store[name].arn})",
                    "ResourceInUse",
                )
            record = _create_record(backend, kind, params)
        job_runner(cloud).start(kind, params, record)
        key = "ProcessingJobArn" if kind == "processing" else "TrainingJobArn"
        return ok({key: record.arn})

    return handle


def _create_record(backend: Any, kind: str, params: dict[str, Any]) -> Any:
    if kind == "processing":
        return backend.create_processing_job(
            app_specification=params["AppSpecification"],
            experiment_config=params.get("ExperimentConfig"),
            network_config=params.get("NetworkConfig"),
            processing_inputs=params.get("ProcessingInputs"),
            processing_job_name=params["ProcessingJobName"],
            processing_output_config=params.get("ProcessingOutputConfig"),
            role_arn=params["RoleArn"],
            stopping_condition=params.get("StoppingCondition"),
            tags=params.get("Tags"),
        )
    return backend.create_training_job(
        training_job_name=params["TrainingJobName"],
        hyper_parameters=params.get("HyperParameters"),
        algorithm_specification=dict(params["AlgorithmSpecification"]),
        role_arn=params["RoleArn"],
        input_data_config=params.get("InputDataConfig"),
        output_data_config=params["OutputDataConfig"],
        resource_config=params["ResourceConfig"],
        vpc_config=params.get("VpcConfig"),
        stopping_condition=params["StoppingCondition"],
        tags=params.get("Tags"),
        enable_network_isolation=params.get("EnableNetworkIsolation", False),
        enable_inter_container_traffic_encryption=params.get(
            "EnableInterContainerTrafficEncryption", False
        ),
        enable_managed_spot_training=params.get("EnableManagedSpotTraining", False),
        checkpoint_config=params.get("CheckpointConfig"),
        debug_hook_config=params.get("DebugHookConfig"),
        debug_rule_configurations=params.get("DebugRuleConfigurations"),
        tensor_board_output_config=params.get("TensorBoardOutputConfig"),
        experiment_config=params.get("ExperimentConfig"),
    )


def _stop(cloud: LocalCloud, kind: str) -> Callable[[Session, AwsRequest], Response | None]:
    def handle(session: Session, request: AwsRequest) -> Response | None:
        backend = sagemaker_backends[session.account][request.region]
        key = "ProcessingJobName" if kind == "processing" else "TrainingJobName"
        store: dict[str, Any] = (
            backend.processing_jobs if kind == "processing" else backend.training_jobs
        )
        record = store.get(str(request.params.get(key, "")))
        if record is None:
            return None  # moto words the "not found" error
        runner = job_runner(cloud)
        job = runner.get(record.arn)
        if job is not None and not job.done.is_set():
            runner.stop(job)
            return ok({})
        # Finished: the runner's own entry, or moto's record once the runner forgot the job.
        status = job.status if job is not None else str(getattr(record, f"{kind}_job_status", ""))
        if job is None and status not in _TERMINAL:
            return None  # a job localcloud did not run: moto answers
        return validation_error(
            request, f"The request was rejected because the {kind} job is in status {status}."
        )

    return handle


def register(cloud: LocalCloud) -> dict[str, Callable[[Session, AwsRequest], Response | None]]:
    return {
        "CreateProcessingJob": _create(cloud, "processing"),
        "CreateTrainingJob": _create(cloud, "training"),
        "StopProcessingJob": _stop(cloud, "processing"),
        "StopTrainingJob": _stop(cloud, "training"),
    }
