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


def _within(path: Path, root: Path) -> bool:
    """Whether ``path``, with every symlink and ``..`` resolved, lies in ``root`` (resolved)."""
    return path.resolve().is_relative_to(root.resolve())


def download_prefix(s3: Any, uri: str, destination: Path) -> list[Path]:
    """Copy every object under ``uri`` (an S3Prefix) into ``destination``.

    Keys keep their path below the prefix; an object whose key is the prefix itself (a URI
    naming one file) lands under its base name. No object at all is an error, as on AWS, and
    so is a key that would land outside ``destination`` once resolved (``..`` segments): S3
    stores such keys as they are, but a job writes only below its input's local path, so the
    job fails naming the key, before anything is written.
    """
    bucket, prefix = split_uri(uri)
    destination.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        root = destination.resolve()
        targets: list[tuple[str, Path]] = []
        for key in keys:
            if key.endswith("/"):
                continue
            relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
            target = (root / relative).resolve()
            if target == root or not target.is_relative_to(root):
                raise S3StagingError(
                    f"ClientError: cannot download s3://{bucket}/{key} under S3 URL {uri!r}: "
                    f"its key below the prefix ({relative!r}) leads outside the local "
                    "directory the input is downloaded to"
                )
            targets.append((key, target))
        for key, target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not _within(target, root):  # a symlink on the way (none is made here)
                raise S3StagingError(
                    f"ClientError: cannot download s3://{bucket}/{key}: its local path leads "
                    "outside the local directory the input is downloaded to"
                )
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


def contained_files(source: Path, root: Path | None = None, what: str = "") -> list[Path]:
    """Every regular file under ``source``, sorted, following symlinks that stay in ``root``
    (default ``source``).

    A symlink that resolves outside ``root`` (or ``source`` itself being one) raises
    :class:`S3StagingError` naming it: what a job leaves in its output directory must not
    reach files of the host outside the job's own directory. Symlink loops are walked once.
    """
    root = (root or source).resolve()
    label = what or str(source)
    if not _within(source, root):
        raise S3StagingError(
            f"ClientError: {label} is a symbolic link to a path outside the job's directory"
        )
    files: list[Path] = []

    def walk(directory: Path, ancestors: frozenset[Path]) -> None:
        for entry in sorted(directory.iterdir()):
            real = entry.resolve()
            if entry.is_symlink() and not real.is_relative_to(root):
                name = entry.relative_to(source).as_posix()
                raise S3StagingError(
                    f"ClientError: {label}: {name!r} is a symbolic link to a path outside the "
                    "job's directory; only files inside it are uploaded"
                )
            if entry.is_dir():
                if real not in ancestors:
                    walk(entry, ancestors | {real})
            elif entry.is_file():
                files.append(entry)

    if source.is_dir():
        walk(source, frozenset({source.resolve()}))
    return files


def upload_dir(s3: Any, source: Path, uri: str, kms_key_id: str | None) -> list[str]:
    """Upload every file under ``source`` below ``uri``; SSE-KMS with ``kms_key_id`` if given.

    A symlink leading outside ``source`` fails the upload before anything is written (see
    :func:`contained_files`)."""
    bucket, prefix = split_uri(uri)
    prefix = prefix.rstrip("/")
    extra: dict[str, str] = {}
    if kms_key_id:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
    uploaded: list[str] = []
    paths = contained_files(source, what=f"the output for {uri}")
    try:
        for path in paths:
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
