"""S3 REST requests → IAM checks (operation from method, path and sub-resource).

Path-style addressing (what SDKs use against a custom endpoint). SSE-KMS adds the KMS checks
AWS makes for the caller: ``kms:GenerateDataKey`` to write, ``kms:Decrypt`` to read.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from localcloud.authz.checks import Check

# sub-resource → (GET, PUT, DELETE) action names on the bucket
_BUCKET_SUBRESOURCES = {
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "encryption": ("GetEncryptionConfiguration", "PutEncryptionConfiguration", None),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None),
    "publicAccessBlock": ("GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock", None),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "PutBucketTagging"),
    "notification": ("GetBucketNotification", "PutBucketNotification", None),
    "location": ("GetBucketLocation", None, None),
    "acl": ("GetBucketAcl", "PutBucketAcl", None),
    "ownershipControls": ("GetBucketOwnershipControls", "PutBucketOwnershipControls", None),
    "lifecycle": ("GetLifecycleConfiguration", "PutLifecycleConfiguration", None),
    "cors": ("GetBucketCORS", "PutBucketCORS", None),
    "uploads": ("ListBucketMultipartUploads", None, None),
    "versions": ("ListBucketVersions", None, None),
}

KmsKeyOf = Callable[[str, "str | None"], "str | None"]  # (bucket, key) → KMS key ARN


def _split(path: str) -> tuple[str, str]:
    bucket, _, key = path.lstrip("/").partition("/")
    return unquote(bucket), unquote(key)


def s3_checks(
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    bucket_kms_key: KmsKeyOf | None = None,
    region: str = "us-east-1",
) -> list[Check]:
    bucket, key = _split(path)
    method = method.upper()
    if not bucket:
        return [Check("s3:ListAllMyBuckets", "*")]
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if not key:
        return _bucket_checks(method, bucket_arn, query)
    object_arn = f"{bucket_arn}/{key}"
    checks: list[Check] = []
    if method in {"GET", "HEAD"}:
        checks.append(Check("s3:GetObject", object_arn))
        kms_action = "kms:Decrypt"
    elif method == "DELETE" and "uploadId" in query:
        checks.append(Check("s3:AbortMultipartUpload", object_arn))
        kms_action = None
    elif method == "DELETE":
        checks.append(Check("s3:DeleteObject", object_arn))
        kms_action = None
    elif method in {"PUT", "POST"}:
        if "tagging" in query:
            checks.append(Check("s3:PutObjectTagging", object_arn))
            kms_action = None
        else:
            checks.append(Check("s3:PutObject", object_arn))
            kms_action = "kms:GenerateDataKey"
            source = headers.get("x-amz-copy-source")
            if source:
                src_bucket, src_key = _split(unquote(source).split("?", 1)[0])
                checks.append(Check("s3:GetObject", f"arn:aws:s3:::{src_bucket}/{src_key}"))
    else:
        return [Check(f"s3:{method.title()}Object", object_arn)]
    key_arn = headers.get("x-amz-server-side-encryption-aws-kms-key-id")
    if key_arn is None and bucket_kms_key is not None:
        key_arn = bucket_kms_key(bucket, key if method in {"GET", "HEAD"} else None)
    if kms_action and key_arn:
        checks.append(
            # S3 calls KMS as s3.<region>.amazonaws.com, the value key policies name.
            Check(
                kms_action, key_arn, {"kms:ViaService": f"s3.{region}.amazonaws.com"}, implied=True
            )
        )
    return checks


def _bucket_checks(method: str, bucket_arn: str, query: dict[str, str]) -> list[Check]:
    for name, (get, put, delete) in _BUCKET_SUBRESOURCES.items():
        if name in query:
            action = {"GET": get, "HEAD": get, "PUT": put, "DELETE": delete}.get(method)
            return [Check(f"s3:{action or method.title() + 'Bucket'}", bucket_arn)]
    if method == "POST" and "delete" in query:
        return [Check("s3:DeleteObject", f"{bucket_arn}/*")]
    action = {
        "PUT": "s3:CreateBucket",
        "DELETE": "s3:DeleteBucket",
        "GET": "s3:ListBucket",
        "HEAD": "s3:ListBucket",
    }.get(method, f"s3:{method.title()}Bucket")
    # Query values arrive as sent, percent-encoded (SDKs encode the "/" of a prefix).
    context = {"s3:prefix": unquote(query["prefix"])} if "prefix" in query else {}
    return [Check(action, bucket_arn, context)]
