"""IAM checks for the JSON and query services localcloud stores in moto: STS, IAM, KMS, SQS,
EventBridge, CloudWatch Logs and Organizations (CloudWatch has its own module)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from localcloud.authz.checks import Check, Target, is_arn

KeyArnOf = Callable[[str, str], "str | None"]  # (key id or alias, account) → key ARN


def sts_checks(operation: str, params: dict[str, Any], target: Target) -> list[Check]:
    if operation == "AssumeRole":
        return [Check("sts:AssumeRole", str(params.get("RoleArn", "")))]
    # GetCallerIdentity needs no permission on AWS.
    return [] if operation == "GetCallerIdentity" else [Check(f"sts:{operation}", "*")]


def iam_checks(operation: str, params: dict[str, Any], target: Target) -> list[Check]:
    action = f"iam:{operation}"
    if params.get("RoleName"):
        return [Check(action, f"arn:aws:iam::{target.account}:role/{params['RoleName']}")]
    if params.get("PolicyArn"):
        return [Check(action, str(params["PolicyArn"]))]
    return [Check(action, "*")]


# moto's ciphertext blob starts with the 36 characters of the key id that encrypted it.
_BLOB_KEY_ID = re.compile(
    r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$"
)


def ciphertext_key_id(blob: object) -> str | None:
    """The key id a ciphertext blob (base64, as sent) was encrypted under, in moto's format;
    None when it is not one (moto cannot decrypt it either)."""
    if not isinstance(blob, str):
        return None
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        key_id = raw[:36].decode("ascii")
    except UnicodeDecodeError:
        return None
    return key_id if _BLOB_KEY_ID.match(key_id) else None


def _key_resource(key: str, target: Target, key_arn_of: KeyArnOf | None) -> str:
    account = key.split(":")[4] if is_arn(key) else target.account
    resolved = key_arn_of(key, account) if key_arn_of is not None else None
    if resolved is None:
        resolved = key if is_arn(key) else target.arn("kms", f"key/{key}")
    return resolved


def kms_checks(
    operation: str, params: dict[str, Any], target: Target, key_arn_of: KeyArnOf | None
) -> list[Check]:
    action = f"kms:{operation}"
    if operation in {"Decrypt", "ReEncrypt"}:
        # The key is the one the ciphertext names (KeyId/SourceKeyId, when given, must be it).
        blob_key = ciphertext_key_id(params.get("CiphertextBlob"))
        named = params.get("KeyId") if operation == "Decrypt" else params.get("SourceKeyId")
        if blob_key and is_arn(named) and str(named).endswith(f":key/{blob_key}"):
            blob_key = None  # the same key, named with its account
        sources = list(dict.fromkeys(str(k) for k in (blob_key, named) if k))
        if operation == "Decrypt":
            return [Check(action, _key_resource(k, target, key_arn_of)) for k in sources] or [
                Check(action, "*")
            ]
        checks = [
            Check("kms:ReEncryptFrom", _key_resource(k, target, key_arn_of)) for k in sources
        ] or [Check("kms:ReEncryptFrom", "*")]
        destination = params.get("DestinationKeyId")
        checks.append(
            Check(
                "kms:ReEncryptTo",
                _key_resource(str(destination), target, key_arn_of) if destination else "*",
            )
        )
        return checks
    key = params.get("KeyId") or params.get("TargetKeyId")
    if not key:
        return [Check(action, "*")]
    return [Check(action, _key_resource(str(key), target, key_arn_of))]


def _queue_arn(url: str, target: Target) -> str:
    parts = urlsplit(url).path.strip("/").split("/")
    if len(parts) >= 2:
        return target.arn("sqs", parts[-1], parts[-2])
    return target.arn("sqs", parts[-1])


# IAM has no separate batch actions: a batch call is authorized as its single form.
_SQS_BATCH = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def sqs_checks(operation: str, params: dict[str, Any], target: Target) -> list[Check]:
    action = f"sqs:{_SQS_BATCH.get(operation, operation)}"
    if params.get("QueueUrl"):
        return [Check(action, _queue_arn(str(params["QueueUrl"]), target))]
    if params.get("QueueName"):
        return [Check(action, target.arn("sqs", str(params["QueueName"])))]
    return [Check(action, "*")]


def events_checks(operation: str, params: dict[str, Any], target: Target) -> list[Check]:
    action = f"events:{operation}"
    if operation == "PutEvents":
        buses = {
            str(entry.get("EventBusName") or "default") for entry in params.get("Entries") or []
        } or {"default"}
        return [
            Check(action, bus if is_arn(bus) else target.arn("events", f"event-bus/{bus}"))
            for bus in sorted(buses)
        ]
    rule = params.get("Rule") or params.get("Name")
    if rule and operation != "CreateEventBus":
        return [Check(action, target.arn("events", f"rule/{rule}"))]
    return [Check(action, "*")]


def logs_checks(operation: str, params: dict[str, Any], target: Target) -> list[Check]:
    action = f"logs:{operation}"
    group = params.get("logGroupName")
    if group:
        return [Check(action, target.arn("logs", f"log-group:{group}:*"))]
    return [Check(action, "*")]


def generic_checks(service: str, operation: str) -> list[Check]:
    """Operations outside the table: the action against ``*`` (documented in the README)."""
    return [Check(f"{service}:{operation}", "*")]
