"""S3 REST requests → IAM checks (operation from method, path and sub-resource).

Path-style addressing only (what SDKs use against a custom endpoint): the gateway refuses a
request whose Host names a bucket (:func:`host_names_bucket`), and the bucket and key are read
from the path exactly as moto reads them (:func:`bucket_and_key`), so the bucket checked is
the bucket moto acts on. SSE-KMS adds the KMS checks AWS makes for the caller:
``kms:GenerateDataKey`` to write, ``kms:Decrypt`` to read.

A request whose sub-resource this table does not know is refused
(:class:`UnsupportedRequest`), never authorized as some other operation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, unquote_plus

from localcloud.authz.checks import Check

# sub-resource → (GET, PUT, DELETE) action names on the bucket
_BUCKET_SUBRESOURCES = {
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "policyStatus": ("GetBucketPolicyStatus", None, None),
    "encryption": (
        "GetEncryptionConfiguration",
        "PutEncryptionConfiguration",
        "PutEncryptionConfiguration",
    ),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None),
    "publicAccessBlock": (
        "GetBucketPublicAccessBlock",
        "PutBucketPublicAccessBlock",
        "PutBucketPublicAccessBlock",
    ),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "PutBucketTagging"),
    "notification": ("GetBucketNotification", "PutBucketNotification", None),
    "location": ("GetBucketLocation", None, None),
    "acl": ("GetBucketAcl", "PutBucketAcl", None),
    "ownershipControls": (
        "GetBucketOwnershipControls",
        "PutBucketOwnershipControls",
        "PutBucketOwnershipControls",
    ),
    "lifecycle": (
        "GetLifecycleConfiguration",
        "PutLifecycleConfiguration",
        "PutLifecycleConfiguration",
    ),
    "cors": ("GetBucketCORS", "PutBucketCORS", "PutBucketCORS"),
    "website": ("GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite"),
    "logging": ("GetBucketLogging", "PutBucketLogging", None),
    "replication": (
        "GetReplicationConfiguration",
        "PutReplicationConfiguration",
        "PutReplicationConfiguration",
    ),
    "object-lock": (
        "GetBucketObjectLockConfiguration",
        "PutBucketObjectLockConfiguration",
        None,
    ),
    "accelerate": ("GetAccelerateConfiguration", "PutAccelerateConfiguration", None),
    "requestPayment": ("GetBucketRequestPayment", "PutBucketRequestPayment", None),
    "uploads": ("ListBucketMultipartUploads", None, None),
    "versions": ("ListBucketVersions", None, None),
}
# Query parameters of the bucket listings (not sub-resources) and the presigning ones.
_LIST_PARAMETERS = {
    "list-type",
    "prefix",
    "delimiter",
    "max-keys",
    "marker",
    "continuation-token",
    "start-after",
    "encoding-type",
    "fetch-owner",
    "key-marker",
    "version-id-marker",
    "upload-id-marker",
    "max-uploads",
    "optional-object-attributes",
    "bucket-region",
    "max-buckets",
}
# Parameters that never change what an object request does.
_OBJECT_PARAMETERS = {
    "versionId",
    "partNumber",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
}
# object sub-resource → (GET/HEAD, PUT, DELETE, POST) actions on the object
_OBJECT_SUBRESOURCES = {
    "tagging": ("GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging", None),
    "acl": ("GetObjectAcl", "PutObjectAcl", None, None),
    "retention": ("GetObjectRetention", "PutObjectRetention", None, None),
    "legal-hold": ("GetObjectLegalHold", "PutObjectLegalHold", None, None),
    "attributes": ("GetObjectAttributes", None, None, None),
    "restore": (None, None, None, "RestoreObject"),
}
_VERSIONED = {
    "GetObject": "GetObjectVersion",
    "DeleteObject": "DeleteObjectVersion",
    "GetObjectTagging": "GetObjectVersionTagging",
    "PutObjectTagging": "PutObjectVersionTagging",
    "DeleteObjectTagging": "DeleteObjectVersionTagging",
    "GetObjectAcl": "GetObjectVersionAcl",
    "PutObjectAcl": "PutObjectVersionAcl",
    "GetObjectAttributes": "GetObjectVersionAttributes",
}

KmsKeyOf = Callable[[str, "str | None"], "str | None"]  # (bucket, key) → KMS key ARN


class UnsupportedRequest(Exception):
    """An S3 request localcloud cannot map to IAM checks: refused, never guessed at."""

    def __init__(self, code: str, message: str, status: int = 501) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def bucket_and_key(raw_path: str) -> tuple[str, str]:
    """The bucket and key of a path-style request, read as moto reads them: the bucket is the
    first segment of the path as sent (``urlparse`` of the raw URL, not decoded), the key all
    after the second ``/`` of the decoded path."""
    from moto.s3bucket_path.utils import bucket_name_from_url, parse_key_name

    raw_path = raw_path or "/"
    bucket = bucket_name_from_url(f"http://localcloud{raw_path}") or ""
    return bucket, parse_key_name(unquote(raw_path))


def host_names_bucket(environ: dict[str, Any]) -> bool:
    """Whether moto would take the bucket from the Host header (virtual-hosted style, access
    points) rather than from the path: asked of moto's own rule, so both always agree."""
    from moto.s3.responses import S3Response
    from werkzeug.wrappers import Request

    request = Request(environ)
    host = request.headers.get("host") or ""
    return ".s3-accesspoint." in host or bool(S3Response.subdomain_based_buckets(request))


def normalized_query(query: dict[str, str]) -> dict[str, str]:
    """Query keys decoded as moto decodes them (``parse_qs``: ``%xx`` and ``+``)."""
    return {unquote_plus(key): value for key, value in query.items()}


def delete_objects_targets(body: bytes) -> list[tuple[str, str | None]]:
    """``(key, version id)`` of every object of a DeleteObjects body, parsed as moto parses
    it; :class:`UnsupportedRequest` (``MalformedXML``) when moto could not read it either."""
    import xmltodict

    malformed = UnsupportedRequest(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
        400,
    )
    try:
        parsed = xmltodict.parse(body, strip_whitespace=False)
        objects = parsed["Delete"].get("Object", [])
    except Exception:  # any parse error or shape moto would fail on
        raise malformed from None
    if not isinstance(objects, list):
        objects = [objects]
    targets: list[tuple[str, str | None]] = []
    for obj in objects:
        if not isinstance(obj, dict):
            raise malformed
        key, version = obj.get("Key"), obj.get("VersionId")
        if not isinstance(key, str) or not (version is None or isinstance(version, str)):
            raise malformed
        targets.append((key, version))
    if not targets:
        raise malformed
    return targets


def s3_checks(
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    bucket_kms_key: KmsKeyOf | None = None,
    region: str = "us-east-1",
    body: bytes = b"",
) -> list[Check]:
    bucket, key = bucket_and_key(path)
    method = method.upper()
    query = {k: v for k, v in normalized_query(query).items() if not k.startswith("X-Amz-")}
    query.pop("x-id", None)  # botocore's operation hint, no sub-resource
    if not bucket:
        return [Check("s3:ListAllMyBuckets", "*")]
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if not key:
        return _bucket_checks(method, bucket_arn, query, body)
    object_arn = f"{bucket_arn}/{key}"
    checks: list[Check] = []
    kms_action: str | None = None
    action = _object_action(method, query)
    if "versionId" in query:
        action = _VERSIONED.get(action, action)
    checks.append(Check(f"s3:{action}", object_arn))
    if action in {"GetObject", "GetObjectVersion"}:
        kms_action = "kms:Decrypt"
    elif action == "PutObject" and not ("uploadId" in query and method == "POST"):
        kms_action = "kms:GenerateDataKey"
        source = headers.get("x-amz-copy-source")
        if source:
            src_path, _, src_query = unquote(source).partition("?")
            src_bucket, _, src_key = src_path.lstrip("/").partition("/")
            src_action = "s3:GetObjectVersion" if "versionId=" in src_query else "s3:GetObject"
            checks.append(Check(src_action, f"arn:aws:s3:::{src_bucket}/{src_key}"))
    key_arn = headers.get("x-amz-server-side-encryption-aws-kms-key-id")
    if key_arn is None and bucket_kms_key is not None and kms_action:
        key_arn = bucket_kms_key(bucket, key if method in {"GET", "HEAD"} else None)
    if kms_action and key_arn:
        checks.append(
            # S3 calls KMS as s3.<region>.amazonaws.com, the value key policies name.
            Check(
                kms_action, key_arn, {"kms:ViaService": f"s3.{region}.amazonaws.com"}, implied=True
            )
        )
    return checks


def _unsupported(method: str, what: str) -> UnsupportedRequest:
    return UnsupportedRequest(
        "NotImplemented",
        f"A header or query you provided implies functionality that is not implemented: "
        f"localcloud does not serve {method} {what}",
    )


def _object_action(method: str, query: dict[str, str]) -> str:
    for name, (get, put, delete, post) in _OBJECT_SUBRESOURCES.items():
        if name in query:
            action = {"GET": get, "HEAD": get, "PUT": put, "DELETE": delete, "POST": post}.get(
                method
            )
            if action is None:
                raise _unsupported(method, f"on an object's ?{name}")
            return action
    if "uploadId" in query:
        # UploadPart, CompleteMultipartUpload: s3:PutObject; ListParts; AbortMultipartUpload.
        action = {
            "PUT": "PutObject",
            "POST": "PutObject",
            "GET": "ListMultipartUploadParts",
            "DELETE": "AbortMultipartUpload",
        }.get(method)
    elif "uploads" in query:
        action = "PutObject" if method == "POST" else None  # CreateMultipartUpload
    else:
        unknown = set(query) - _OBJECT_PARAMETERS
        if unknown:
            raise _unsupported(method, f"an object with ?{sorted(unknown)[0]}")
        action = {
            "GET": "GetObject",
            "HEAD": "GetObject",
            "PUT": "PutObject",
            "POST": "PutObject",
            "DELETE": "DeleteObject",
        }.get(method)
    if action is None:
        raise _unsupported(method, "on an object")
    return action


def _bucket_checks(method: str, bucket_arn: str, query: dict[str, str], body: bytes) -> list[Check]:
    for name, (get, put, delete) in _BUCKET_SUBRESOURCES.items():
        if name in query:
            action = {"GET": get, "HEAD": get, "PUT": put, "DELETE": delete}.get(method)
            if action is None:
                raise _unsupported(method, f"a bucket's ?{name}")
            return [Check(f"s3:{action}", bucket_arn)]
    if method == "POST" and "delete" in query:
        # DeleteObjects: each object of the body is authorized as its own DeleteObject (or
        # DeleteObjectVersion), so a Deny on some keys holds for batch deletes too.
        return [
            Check("s3:DeleteObjectVersion" if version else "s3:DeleteObject", f"{bucket_arn}/{key}")
            for key, version in delete_objects_targets(body)
        ]
    unknown = set(query) - _LIST_PARAMETERS
    if unknown:
        raise _unsupported(method, f"a bucket with ?{sorted(unknown)[0]}")
    action = {
        "PUT": "s3:CreateBucket",
        "DELETE": "s3:DeleteBucket",
        "GET": "s3:ListBucket",
        "HEAD": "s3:ListBucket",
    }.get(method)
    if action is None:
        raise _unsupported(method, "on a bucket")
    if method in {"PUT", "DELETE"} and query:
        raise _unsupported(method, f"a bucket with ?{sorted(query)[0]}")
    # Query values arrive as sent, percent-encoded (SDKs encode the "/" of a prefix).
    context = {"s3:prefix": unquote_plus(query["prefix"])} if "prefix" in query else {}
    return [Check(action, bucket_arn, context)]
