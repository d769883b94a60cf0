"""SageMaker operations → IAM checks (Service Authorization Reference, SageMaker).

SageMaker writes resource names into ARNs in lower case. Operations that name another
account's resource by ARN (a hub model package from staging) are checked against that ARN, so
the cross-account rules (identity AND resource policy) apply.
"""

from __future__ import annotations

from typing import Any

from localcloud.authz.checks import Check, Target, is_arn

# operation → (ARN resource type, request parameter holding a name or an ARN)
_NAMED: dict[str, tuple[str, str]] = {}
for _ops, _type, _param in [
    (("CreateModel", "DescribeModel", "DeleteModel"), "model", "ModelName"),
    (
        ("CreateEndpointConfig", "DescribeEndpointConfig", "DeleteEndpointConfig"),
        "endpoint-config",
        "EndpointConfigName",
    ),
    (
        (
            "CreateEndpoint",
            "UpdateEndpoint",
            "DescribeEndpoint",
            "DeleteEndpoint",
            "UpdateEndpointWeightsAndCapacities",
        ),
        "endpoint",
        "EndpointName",
    ),
    (
        (
            "CreatePipeline",
            "UpdatePipeline",
            "DescribePipeline",
            "DeletePipeline",
            "StartPipelineExecution",
            "ListPipelineExecutions",
        ),
        "pipeline",
        "PipelineName",
    ),
    (
        ("CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob"),
        "training-job",
        "TrainingJobName",
    ),
    (
        ("CreateProcessingJob", "DescribeProcessingJob", "StopProcessingJob"),
        "processing-job",
        "ProcessingJobName",
    ),
    (
        (
            "CreateModelPackageGroup",
            "DescribeModelPackageGroup",
            "DeleteModelPackageGroup",
            "PutModelPackageGroupPolicy",
            "GetModelPackageGroupPolicy",
            "DeleteModelPackageGroupPolicy",
        ),
        "model-package-group",
        "ModelPackageGroupName",
    ),
    # DeleteModelPackage names the package in ModelPackageName, UpdateModelPackage in
    # ModelPackageArn (SageMaker API reference).
    (("DescribeModelPackage", "DeleteModelPackage"), "model-package", "ModelPackageName"),
    (("UpdateModelPackage",), "model-package", "ModelPackageArn"),
    (
        (
            "DescribePipelineExecution",
            "ListPipelineExecutionSteps",
            "StopPipelineExecution",
            "RetryPipelineExecution",
        ),
        "pipeline-execution",
        "PipelineExecutionArn",
    ),
]:
    for _op in _ops:
        _NAMED[_op] = (_type, _param)


def _arn(target: Target, kind: str, value: str) -> str:
    return value if is_arn(value) else target.arn("sagemaker", f"{kind}/{value.lower()}")


def _get(params: dict[str, Any], *path: str) -> Any:
    node: Any = params
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _kms_context(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """The SageMaker condition keys SCPs use to require encryption."""
    if operation == "CreateTrainingJob":
        volume = _get(params, "ResourceConfig", "VolumeKmsKeyId")
        output = _get(params, "OutputDataConfig", "KmsKeyId")
    elif operation == "CreateProcessingJob":
        volume = _get(params, "ProcessingResources", "ClusterConfig", "VolumeKmsKeyId")
        output = _get(params, "ProcessingOutputConfig", "KmsKeyId")
    elif operation == "CreateEndpointConfig":
        volume, output = params.get("KmsKeyId"), None
    else:
        return {}
    context: dict[str, Any] = {}
    if volume:
        context["sagemaker:VolumeKmsKey"] = volume
    if output:
        context["sagemaker:OutputKmsKey"] = output
    return context


def sagemaker_checks(operation: str, params: dict[str, Any], target: Target) -> list[Check]:
    action = f"sagemaker:{operation}"
    context = _kms_context(operation, params)
    if operation in {"UpdateModelPackage", "CreateModelPackage"} and params.get(
        "ModelApprovalStatus"
    ):
        context["sagemaker:ModelApprovalStatus"] = params["ModelApprovalStatus"]
    checks: list[Check]
    if operation == "CreateModelPackage":
        group = str(params.get("ModelPackageGroupName") or params.get("ModelPackageName") or "")
        if is_arn(group):
            account = group.split(":")[4]
            group = group.rsplit("/", 1)[-1]
            resource = target.arn("sagemaker", f"model-package/{group.lower()}/*", account)
        else:
            resource = target.arn("sagemaker", f"model-package/{group.lower()}/*")
        checks = [Check(action, resource, context)]
    elif operation == "ListModelPackages":
        listed = params.get("ModelPackageGroupName")
        checks = [Check(action, _arn(target, "model-package-group", listed) if listed else "*")]
    elif operation in _NAMED:
        kind, param = _NAMED[operation]
        value = params.get(param)
        resource = _arn(target, kind, str(value)) if value else "*"
        checks = [Check(action, resource, context)]
    else:
        checks = [Check(action, "*", context)]
    checks.extend(_implied(operation, params, target))
    return checks


def _implied(operation: str, params: dict[str, Any], target: Target) -> list[Check]:
    """Checks AWS makes on the caller's behalf: passing a role, reading a model package."""
    implied: list[Check] = []
    role = params.get("ExecutionRoleArn") or params.get("RoleArn")
    if operation.startswith(("Create", "Update")) and is_arn(role):
        implied.append(
            Check(
                "iam:PassRole",
                str(role),
                {"iam:PassedToService": "sagemaker.amazonaws.com"},
                implied=True,
            )
        )
    if operation == "CreateModel":
        containers = [params.get("PrimaryContainer") or {}, *(params.get("Containers") or [])]
        for container in containers:
            package = container.get("ModelPackageName") if isinstance(container, dict) else None
            if package:
                implied.append(
                    Check(
                        "sagemaker:DescribeModelPackage",
                        _arn(target, "model-package", str(package)),
                        implied=True,
                    )
                )
    return implied


def runtime_checks(path: str, target: Target) -> list[Check]:
    """sagemaker-runtime: ``POST /endpoints/<name>/invocations``."""
    parts = path.strip("/").split("/")
    name = parts[1] if len(parts) > 1 else ""
    return [Check("sagemaker:InvokeEndpoint", target.arn("sagemaker", f"endpoint/{name.lower()}"))]
