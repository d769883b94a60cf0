"""Request → IAM checks, for every service localcloud serves.

The table of what each operation maps to lives in the modules per service; an operation they
do not name is evaluated as ``<service>:<Operation>`` against ``*``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.authz import services
from localcloud.authz.checks import Check, Target
from localcloud.authz.cloudwatch import cloudwatch_checks
from localcloud.authz.s3 import KmsKeyOf, s3_checks
from localcloud.authz.sagemaker import runtime_checks, sagemaker_checks

if TYPE_CHECKING:
    from localcloud.protocol import AwsRequest

# botocore service name → IAM service prefix, where they differ.
_PREFIX = {"cloudwatch": "cloudwatch", "sagemaker-runtime": "sagemaker"}


def checks_for(
    request: AwsRequest,
    target: Target,
    *,
    bucket_kms_key: KmsKeyOf | None = None,
    key_arn_of: services.KeyArnOf | None = None,
) -> list[Check]:
    service, operation, params = request.service, request.operation or "", request.params
    if service == "s3":
        query = {k: v for k, v in request.query_pairs}
        return s3_checks(
            request.method,
            request.path,
            query,
            request.headers,
            bucket_kms_key,
            target.region,
            request.body,
        )
    if service == "sagemaker-runtime":
        return runtime_checks(request.path, target)
    if service == "sagemaker":
        return sagemaker_checks(operation, params, target)
    if service == "sts":
        return services.sts_checks(operation, params, target)
    if service == "iam":
        return services.iam_checks(operation, params, target)
    if service == "kms":
        return services.kms_checks(operation, params, target, key_arn_of)
    if service == "sqs":
        return services.sqs_checks(operation, params, target)
    if service == "events":
        return services.events_checks(operation, params, target)
    if service == "logs":
        return services.logs_checks(operation, params, target)
    if service == "cloudwatch":
        return cloudwatch_checks(operation, params, target)
    return services.generic_checks(_PREFIX.get(service, service), operation or "Unknown")


__all__ = ["Check", "Target", "checks_for"]
