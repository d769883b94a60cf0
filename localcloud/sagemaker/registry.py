"""The model registry as SageMaker runs it: versioned packages, approval, cross-account reads.

What moto gets wrong or lacks, answered here from moto's own stores (so moto's other
operations keep seeing the same packages):

- a group or package ARN resolves in the account it names (a hub ARN from staging reaches the
  hub) for DescribeModelPackageGroup, DescribeModelPackage and ListModelPackages;
- ListModelPackageGroups(CrossAccountFilterOption=CrossAccount) lists the groups other
  accounts share with the caller's account through their group policy;
- CreateModelPackage into a group by name or ARN: versions 1, 2, ... never reused,
  PendingManualApproval by default, ClientToken idempotent, the caller as CreatedBy;
- UpdateModelPackage keeps what it is not asked to change, records LastModifiedBy, and each
  create or update puts one "SageMaker Model Package State Change" event on the bus.

Authorization (identity, SCPs, the group policy across accounts) is decided before a handler
runs; handlers only answer.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from moto.sagemaker.models import ModelPackage

from localcloud.sagemaker.events import emit_state_change
from localcloud.sagemaker.registry_shapes import (
    APPROVAL_STATUSES,
    RegistryError,
    answering,
    backend,
    find_group,
    find_package,
    group_description,
    group_summary,
    ok,
    package_description,
    package_summary,
    parse_arn,
    user_context,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from localcloud.credentials import Session
    from localcloud.protocol import AwsRequest
    from localcloud.server import LocalCloud

Response = tuple[int, dict[str, str], bytes]
DEFAULT_PAGE = 100


def check_approval_status(value: object) -> str:
    """AWS's enum check, worded as its request validation words it."""
    if value not in APPROVAL_STATUSES:
        raise RegistryError(
            f"1 validation error detected: Value '{value}' at 'modelApprovalStatus' failed to "
            "satisfy constraint: Member must satisfy enum value set: "
            "[Approved, Rejected, PendingManualApproval]"
        )
    return str(value)


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    start = int(params.get("NextToken") or 0)
    size = int(params.get("MaxResults") or DEFAULT_PAGE)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _when(value: object) -> datetime | None:
    """A request timestamp (epoch seconds in the JSON protocol) as moto's naive UTC."""
    if value is None:
        return None
    return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None)  # type: ignore[arg-type]


def _sorted(items: list[Any], params: dict[str, Any], name: Callable[[Any], str]) -> list[Any]:
    key = name if params.get("SortBy") == "Name" else (lambda item: item.creation_time)
    return sorted(items, key=key, reverse=params.get("SortOrder") == "Descending")


def _in_window(item: Any, params: dict[str, Any]) -> bool:
    after, before = _when(params.get("CreationTimeAfter")), _when(params.get("CreationTimeBefore"))
    return (after is None or item.creation_time > after) and (
        before is None or item.creation_time < before
    )


def _shares_with(policy: dict[str, Any], account: str) -> bool:
    """Whether a group policy names ``account`` (its root or its ID) as an allowed principal.

    Only account principals count: SageMaker can promote a share to a discoverable one only
    when the policy names accounts, so role principals never show up in CrossAccount lists.
    """
    statements = policy.get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        named = principal.get("AWS") if isinstance(principal, dict) else None
        for value in named if isinstance(named, list) else [named]:
            if value in {account, f"arn:aws:iam::{account}:root"}:
                return True
    return False


class Registry:
    """The registry handlers, with the little state SageMaker keeps beyond moto's objects."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self._lock = threading.Lock()
        self._highest: dict[str, int] = {}  # group ARN → highest version ever issued
        self._tokens: dict[tuple[str, str], str] = {}  # (group ARN, ClientToken) → package ARN

    def describe_model_package_group(self, session: Session, request: AwsRequest) -> Response:
        name = str(request.params.get("ModelPackageGroupName", ""))
        return ok(group_description(find_group(name, session, request.region)))

    def list_model_package_groups(self, session: Session, request: AwsRequest) -> Response | None:
        params = request.params
        if params.get("CrossAccountFilterOption") != "CrossAccount":
            return None  # the caller's own groups: moto lists them right
        shared = []
        for arn, entry in self.cloud.group_policies.as_resources().items():
            if entry["account"] == session.account or not _shares_with(
                entry["policy"], session.account
            ):
                continue
            try:
                group = find_group(arn, session, request.region)
            except RegistryError:
                continue  # the group is gone, its policy entry lingers
            contains = params.get("NameContains")
            if contains and contains not in group.model_package_group_name:
                continue
            if _in_window(group, params):
                shared.append(group)
        shared = _sorted(shared, params, lambda g: g.model_package_group_name)
        page, token = _page(shared, params)
        return ok(
            {"ModelPackageGroupSummaryList": [group_summary(g) for g in page], "NextToken": token}
        )

    def describe_model_package(self, session: Session, request: AwsRequest) -> Response:
        name = str(request.params.get("ModelPackageName", ""))
        return ok(package_description(find_package(name, session, request.region)))

    def list_model_packages(self, session: Session, request: AwsRequest) -> Response | None:
        params = request.params
        if not params.get("ModelPackageGroupName"):
            return None  # unversioned packages of the caller's account: moto
        group = find_group(str(params["ModelPackageGroupName"]), session, request.region)
        region, account, _, _ = parse_arn(group.arn)
        status = params.get("ModelApprovalStatus")
        contains = params.get("NameContains")
        packages = [
            p
            for p in list(backend(account, region).model_packages.values())
            if p.model_package_version is not None
            and (p.model_package_group_name or "").lower() == group.model_package_group_name.lower()
            and (status is None or p.model_approval_status == status)
            and (not contains or contains in (p.model_package_name or ""))
            and _in_window(p, params)
        ]
        packages = _sorted(packages, params, lambda p: p.model_package_name or "")
        page, token = _page(packages, params)
        summaries = [package_summary(p) for p in page]
        return ok({"ModelPackageSummaryList": summaries, "NextToken": token})

    def create_model_package(self, session: Session, request: AwsRequest) -> Response | None:
        params = request.params
        if not params.get("ModelPackageGroupName"):
            return None  # an unversioned package: moto
        if params.get("ModelPackageName"):
            raise RegistryError(
                "Both ModelPackageName and ModelPackageGroupName are provided in the input. "
                "Cannot determine which one to use."
            )
        group = find_group(str(params["ModelPackageGroupName"]), session, request.region)
        status = check_approval_status(params.get("ModelApprovalStatus", "PendingManualApproval"))
        region, account, _, _ = parse_arn(group.arn)
        store = backend(account, region)
        token = params.get("ClientToken")
        with self._lock:
            if token and (group.arn, token) in self._tokens:
                earlier = self._tokens[(group.arn, token)]
                if earlier in store.model_packages:
                    return ok({"ModelPackageArn": earlier})
            name = group.model_package_group_name
            versions = [
                p.model_package_version or 0
                for p in store.model_packages.values()
                if (p.model_package_group_name or "").lower() == name.lower()
            ]
            version = max([self._highest.get(group.arn, 0), *versions]) + 1
            try:
                fields: dict[str, Any] = dict(
                    model_package_name=name,
                    model_package_group_name=name,
                    model_package_version=version,
                    model_package_description=params.get("ModelPackageDescription"),
                    inference_specification=params.get("InferenceSpecification"),
                    source_algorithm_specification=params.get("SourceAlgorithmSpecification"),
                    validation_specification=params.get("ValidationSpecification"),
                    certify_for_marketplace=bool(params.get("CertifyForMarketplace", False)),
                    model_approval_status=status,
                    metadata_properties=params.get("MetadataProperties"),
                    model_metrics=params.get("ModelMetrics"),
                    approval_description=None,
                    customer_metadata_properties=params.get("CustomerMetadataProperties"),
                    drift_check_baselines=params.get("DriftCheckBaselines"),
                    domain=params.get("Domain"),
                    task=params.get("Task"),
                    sample_payload_url=params.get("SamplePayloadUrl"),
                    additional_inference_specifications=params.get(
                        "AdditionalInferenceSpecifications"
                    ),
                    client_token=token,
                    region_name=region,
                    account_id=account,
                    model_package_type="Versioned",
                    tags=params.get("Tags") or [],
                )
                package = ModelPackage(**fields)
            except Exception as exc:  # moto's own validation (instance types): AWS-worded
                raise RegistryError(getattr(exc, "message", str(exc))) from exc
            package.created_by = user_context(session)
            store.model_packages[package.arn] = package
            store.model_package_name_mapping[name] = package.arn
            store.model_package_name_mapping[package.arn] = package.arn
            self._highest[group.arn] = version
            if token:
                self._tokens[(group.arn, token)] = package.arn
        emit_state_change(package)
        return ok({"ModelPackageArn": package.arn})

    def update_model_package(self, session: Session, request: AwsRequest) -> Response:
        params = request.params
        package = find_package(str(params.get("ModelPackageArn", "")), session, request.region)
        status = params.get("ModelApprovalStatus")
        with self._lock:
            if status is not None:
                if package.model_package_version is None:
                    raise RegistryError(
                        "ModelApprovalStatus applies only to versioned model packages."
                    )
                package.model_approval_status = check_approval_status(status)
            if params.get("ApprovalDescription") is not None:
                package.approval_description = params["ApprovalDescription"]
            metadata = dict(package.customer_metadata_properties or {})
            metadata.update(params.get("CustomerMetadataProperties") or {})
            for key in params.get("CustomerMetadataPropertiesToRemove") or []:
                metadata.pop(key, None)
            package.customer_metadata_properties = metadata or None
            if params.get("InferenceSpecification"):
                package.inference_specification = params["InferenceSpecification"]
            if params.get("AdditionalInferenceSpecificationsToAdd"):
                package.add_additional_inference_specifications(
                    params["AdditionalInferenceSpecificationsToAdd"]
                )
            package.last_modified_time = datetime.now(UTC).replace(tzinfo=None)
            package.last_modified_by = user_context(session)
        emit_state_change(package)
        return ok({"ModelPackageArn": package.arn})


def register(cloud: LocalCloud) -> dict[str, Callable[[Session, AwsRequest], Response | None]]:
    registry = Registry(cloud)
    return {
        "DescribeModelPackageGroup": answering(registry.describe_model_package_group),
        "ListModelPackageGroups": answering(registry.list_model_package_groups),
        "DescribeModelPackage": answering(registry.describe_model_package),
        "ListModelPackages": answering(registry.list_model_packages),
        "CreateModelPackage": answering(registry.create_model_package),
        "UpdateModelPackage": answering(registry.update_model_package),
    }
