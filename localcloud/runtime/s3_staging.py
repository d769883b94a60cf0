"""Moving job data between S3 and a job's local dirs, with the client of the job's role.

The client given is signed as the job's execution role and talks to localcloud's own
endpoint, so every object a job reads or writes passes the same governance checks as any
other caller's (bucket policy, identity policy, SCPs, the KMS key policy for SSE-KMS).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class S3StagingError(RuntimeError):
    """A transfer failed; the message is the one a SageMaker job would report."""


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``."""
    if not uri.startswith("s3://"):
        raise S3StagingError(f"ClientError: {uri!r} is not an S3 URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _client_error(exc: Exception, doing: str) -> S3StagingError:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    code = error.get("Code", type(exc).__name__)
    message = error.get("Message", str(exc))
    return S3StagingError(f"ClientError: {doing}: {code}: {message}")


def download_prefix(s3: Any, uri: str, destination: Path) -> list[Path]:
    """Copy every object under ``uri`` (an S3Prefix) into ``destination``.

    Keys keep their path below the prefix; an object whose key is the prefix itself (a URI
    naming one file) lands under its base name. No object at all is an error, as on AWS.
    """
    bucket, prefix = split_uri(uri)
    destination.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        for key in keys:
            if key.endswith("/"):
                continue
            relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            target.write_bytes(body)
            written.append(target)
    except S3StagingError:
        raise
    except Exception as exc:
        raise _client_error(exc, f"reading {uri}") from exc
    if not written:
        raise S3StagingError(f"ClientError: no S3 objects found under S3 URL {uri!r}")
    return written


def upload_dir(s3: Any, source: Path, uri: str, kms_key_id: str | None) -> list[str]:
    """Upload every file under ``source`` below ``uri``; SSE-KMS with ``kms_key_id`` if given."""
    bucket, prefix = split_uri(uri)
    prefix = prefix.rstrip("/")
    extra: dict[str, str] = {}
    if kms_key_id:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
    uploaded: list[str] = []
    try:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            key = "/".join(part for part in (prefix, path.relative_to(source).as_posix()) if part)
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), **extra)
            uploaded.append(f"s3://{bucket}/{key}")
    except Exception as exc:
        raise _client_error(exc, f"writing to {uri}") from exc
    return uploaded


def read_json(s3: Any, uri: str) -> Any:
    """The parsed JSON object at ``uri``."""
    bucket, key = split_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:
        raise _client_error(exc, f"reading {uri}") from exc
    try:
        return json.loads(body)
    except ValueError as exc:
        raise S3StagingError(f"{uri} is not JSON: {exc}") from exc
