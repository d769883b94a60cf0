"""Model package group resource policies (Put/Get/DeleteModelPackageGroupPolicy).

moto answers these with 500; localcloud keeps the policies itself, and the enforcer reads
them as the group's resource policy, so a share to staging and prod works as on AWS.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from moto.sagemaker.models import sagemaker_backends

from localcloud.protocol import error_response

if TYPE_CHECKING:
    from collections.abc import Callable

    from localcloud.credentials import Session
    from localcloud.protocol import AwsRequest
    from localcloud.server import LocalCloud

Response = tuple[int, dict[str, str], bytes]


def group_arn(name_or_arn: str, account: str, region: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:sagemaker:{region}:{account}:model-package-group/{name_or_arn.lower()}"


def group_exists(arn: str) -> bool:
    parts = arn.split(":")
    account, region, name = parts[4], parts[3], parts[5].split("/", 1)[1]
    backend = sagemaker_backends[account][region]
    return any(
        g.model_package_group_name.lower() == name
        for g in list(backend.model_package_groups.values())
    )


def _ok(payload: dict[str, Any]) -> Response:
    return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(payload).encode()


class GroupPolicies:
    """The policies, keyed by group ARN."""

    def __init__(self) -> None:
        self._policies: dict[str, str] = {}
        self._lock = threading.Lock()

    def as_resources(self) -> dict[str, Any]:
        """Resource entries for the policy engine's world."""
        with self._lock:
            return {
                arn: {"policy": json.loads(text), "account": arn.split(":")[4]}
                for arn, text in self._policies.items()
            }

    def handle(self, session: Session, request: AwsRequest) -> Response | None:
        operation = request.operation
        name = str(request.params.get("ModelPackageGroupName", ""))
        arn = group_arn(name, session.account, request.region)
        if not group_exists(arn):
            return error_response(
                "sagemaker",
                400,
                "ValidationException",
                f"Model Package Group {name} does not exist.",
                request.request_id,
            )
        with self._lock:
            if operation == "PutModelPackageGroupPolicy":
                text = str(request.params.get("ResourcePolicy", ""))
                try:
                    json.loads(text)
                except ValueError:
                    return error_response(
                        "sagemaker",
                        400,
                        "ValidationException",
                        "ResourcePolicy is not valid JSON.",
                        request.request_id,
                    )
                self._policies[arn] = text
                return _ok({"ModelPackageGroupArn": arn})
            if operation == "GetModelPackageGroupPolicy":
                if arn not in self._policies:
                    return error_response(
                        "sagemaker",
                        400,
                        "ResourceNotFound",
                        f"Cannot find resource policy for {arn}.",
                        request.request_id,
                    )
                return _ok({"ResourcePolicy": self._policies[arn]})
            self._policies.pop(arn, None)
            return _ok({})


def register(cloud: LocalCloud) -> dict[str, Callable[[Session, AwsRequest], Response | None]]:
    return {
        operation: cloud.group_policies.handle
        for operation in (
            "PutModelPackageGroupPolicy",
            "GetModelPackageGroupPolicy",
            "DeleteModelPackageGroupPolicy",
        )
    }
