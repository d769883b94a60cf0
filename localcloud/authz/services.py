"""IAM checks for the JSON and query services localcloud stores in moto: STS, IAM, KMS, SQS,
EventBridge, CloudWatch Logs and Organizations (CloudWatch has its own module)."""

from __future__ import annotations

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


def kms_checks(
    operation: str, params: dict[str, Any], target: Target, key_arn_of: KeyArnOf | None
) -> list[Check]:
    action = f"kms:{operation}"
    key = params.get("KeyId") or params.get("TargetKeyId")
    if not key:
        return [Check(action, "*")]
    key = str(key)
    account = key.split(":")[4] if is_arn(key) else target.account
    resolved = key_arn_of(key, account) if key_arn_of is not None else None
    if resolved is None:
        resolved = key if is_arn(key) else target.arn("kms", f"key/{key}")
    return [Check(action, resolved)]


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
