"""Finding registry resources in the account their ARN names, and AWS's shapes for them.

moto keeps model package groups and packages per account and resolves names only in the
caller's account; SageMaker resolves an ARN in the account it names. Every lookup here takes
a name or an ARN and answers from the owning account's moto backend.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from moto.sagemaker.models import sagemaker_backends

from localcloud.protocol import error_response

if TYPE_CHECKING:
    from collections.abc import Callable

    from moto.sagemaker.models import ModelPackage, ModelPackageGroup, SageMakerModelBackend

    from localcloud.credentials import Session
    from localcloud.protocol import AwsRequest

Response = tuple[int, dict[str, str], bytes]

APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")


class RegistryError(Exception):
    """A request SageMaker refuses: answered as ``code`` with ``message`` (HTTP 400)."""

    def __init__(self, message: str, code: str = "ValidationException") -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def response(self, request: AwsRequest) -> Response:
        return error_response("sagemaker", 400, self.code, self.message, request.request_id)


def answering(
    handler: Callable[[Session, AwsRequest], Response | None],
) -> Callable[[Session, AwsRequest], Response | None]:
    """Wrap a handler so a :class:`RegistryError` becomes SageMaker's error answer."""

    def answer(session: Session, request: AwsRequest) -> Response | None:
        try:
            return handler(session, request)
        except RegistryError as exc:
            return exc.response(request)

    return answer


def ok(payload: dict[str, Any]) -> Response:
    """A 200 answer in SageMaker's JSON protocol (timestamps as epoch seconds)."""
    body = json.dumps({k: v for k, v in payload.items() if v is not None}, default=_json_default)
    return 200, {"Content-Type": "application/x-amz-json-1.1"}, body.encode()


def _json_default(value: object) -> Any:
    if isinstance(value, datetime):
        return epoch_seconds(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def epoch_seconds(moment: datetime) -> float:
    """moto stores naive UTC datetimes; the JSON protocol sends epoch seconds."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.timestamp()


def user_context(session: Session) -> dict[str, Any]:
    """SageMaker's ``UserContext`` for a caller outside Studio: the IAM identity only."""
    return {"IamIdentity": {"Arn": session.caller_arn}}


def parse_arn(arn: str) -> tuple[str, str, str, str]:
    """``arn:aws:sagemaker:R:A:type/rest`` → (region, account, type, rest)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "sagemaker" or "/" not in parts[5]:
        raise RegistryError(f"{arn} is not a valid SageMaker ARN.")
    kind, _, rest = parts[5].partition("/")
    return parts[3], parts[4], kind, rest


def backend(account: str, region: str) -> SageMakerModelBackend:
    return sagemaker_backends[account][region]


def find_group(name_or_arn: str, session: Session, region: str) -> ModelPackageGroup:
    """The group named (caller's account) or ARN'd (its own account); ValidationException."""
    account, name = session.account, name_or_arn
    if name_or_arn.startswith("arn:"):
        region, account, kind, name = parse_arn(name_or_arn)
        if kind != "model-package-group":
            raise RegistryError(f"{name_or_arn} is not a model package group ARN.")
    store = backend(account, region)
    for group in list(store.model_package_groups.values()):
        if group.model_package_group_name.lower() == name.lower():
            return group
    arn = f"arn:aws:sagemaker:{region}:{account}:model-package-group/{name.lower()}"
    raise RegistryError(f"ModelPackageGroup {arn} does not exist.")


def package_arn(name_or_arn: str, session: Session, region: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:sagemaker:{region}:{session.account}:model-package/{name_or_arn.lower()}"


def find_package(name_or_arn: str, session: Session, region: str) -> ModelPackage:
    """The package named or ARN'd, from the account the ARN names; ValidationException."""
    arn = package_arn(name_or_arn, session, region)
    region, account, kind, _ = parse_arn(arn)
    if kind != "model-package":
        raise RegistryError(f"{arn} is not a model package ARN.")
    store = backend(account, region)
    found = store.model_packages.get(arn) or next(
        (p for p in list(store.model_packages.values()) if p.arn.lower() == arn.lower()), None
    )
    if found is None:
        raise RegistryError(f"Model package {arn} does not exist.")
    return found


def group_description(group: ModelPackageGroup) -> dict[str, Any]:
    """DescribeModelPackageGroup's output."""
    return {
        "ModelPackageGroupName": group.model_package_group_name,
        "ModelPackageGroupArn": group.arn,
        "ModelPackageGroupDescription": group.model_package_group_description or None,
        "CreationTime": group.creation_time,
        "ModelPackageGroupStatus": group.model_package_group_status,
    }


def group_summary(group: ModelPackageGroup) -> dict[str, Any]:
    """One ``ModelPackageGroupSummary``."""
    return {k: v for k, v in group_description(group).items() if v is not None}


def package_description(package: ModelPackage) -> dict[str, Any]:
    """DescribeModelPackage's output; a versioned package's name is its group's name."""
    versioned = package.model_package_version is not None
    shape: dict[str, Any] = {
        "ModelPackageName": package.model_package_group_name
        if versioned
        else package.model_package_name,
        "ModelPackageGroupName": package.model_package_group_name if versioned else None,
        "ModelPackageVersion": package.model_package_version,
        "ModelPackageArn": package.arn,
        "ModelPackageDescription": package.model_package_description,
        "CreationTime": package.creation_time,
        "InferenceSpecification": package.inference_specification,
        "SourceAlgorithmSpecification": package.source_algorithm_specification,
        "ValidationSpecification": package.validation_specification,
        "ModelPackageStatus": package.model_package_status,
        "ModelPackageStatusDetails": package.model_package_status_details,
        "CertifyForMarketplace": bool(package.certify_for_marketplace),
        "ModelApprovalStatus": package.model_approval_status,
        "CreatedBy": package.created_by,
        "MetadataProperties": package.metadata_properties,
        "ModelMetrics": package.model_metrics,
        "LastModifiedTime": package.last_modified_time,
        "LastModifiedBy": package.last_modified_by,
        "ApprovalDescription": package.approval_description,
        "CustomerMetadataProperties": package.customer_metadata_properties or None,
        "DriftCheckBaselines": package.drift_check_baselines,
        "Domain": package.domain,
        "Task": package.task,
        "SamplePayloadUrl": package.sample_payload_url,
        "AdditionalInferenceSpecifications": package.additional_inference_specifications,
    }
    return {k: v for k, v in shape.items() if v is not None}


def package_summary(package: ModelPackage) -> dict[str, Any]:
    """One ``ModelPackageSummary``."""
    versioned = package.model_package_version is not None
    shape = {
        "ModelPackageName": None if versioned else package.model_package_name,
        "ModelPackageGroupName": package.model_package_group_name if versioned else None,
        "ModelPackageVersion": package.model_package_version,
        "ModelPackageArn": package.arn,
        "ModelPackageDescription": package.model_package_description,
        "CreationTime": package.creation_time,
        "ModelPackageStatus": package.model_package_status,
        "ModelApprovalStatus": package.model_approval_status,
    }
    return {k: v for k, v in shape.items() if v is not None}


def owner_account(package: ModelPackage) -> str:
    return str(package.arn.split(":")[4])
