"""The promotion board: every model's registry versions, what is live, and its ledger.

One JSON-serialisable dict built from the hub registry, the serving spokes' endpoints and the
hub ledger, for the Airflow UI's Promotions page and anything else that wants the same view.
Clients are passed in (the hub's SageMaker and S3, one SageMaker client per serving spoke), so
the same functions run against AWS and localcloud.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from hubspoke.deploy import endpoint_name
from hubspoke.ledger import Ledger, LedgerRecord, verify_records
from hubspoke.registry import group_arn, package_version

if TYPE_CHECKING:
    from hubspoke.config import AccountsConfig, ModelConfig

METRIC_PREFIX = "hubspoke:metric:"
PENDING = "PendingManualApproval"
SERVING_ENVIRONMENTS = ("staging", "prod")
RECENT_LEDGER_ENTRIES = 10
_MISSING = {"ValidationException", "ResourceNotFound", "ResourceNotFoundException"}


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _metrics(properties: Mapping[str, str]) -> dict[str, float | str]:
    """``hubspoke:metric:<name>`` customer metadata as ``{name: value}`` (floats when numeric)."""
    out: dict[str, float | str] = {}
    for key, raw in sorted(properties.items()):
        if not key.startswith(METRIC_PREFIX):
            continue
        try:
            out[key[len(METRIC_PREFIX) :]] = float(raw)
        except ValueError:
            out[key[len(METRIC_PREFIX) :]] = raw
    return out


def registry_versions(sagemaker: Any, group: str) -> list[dict[str, Any]]:
    """Every version of the package group, newest first (empty when the group does not exist)."""
    arns: list[str] = []
    try:
        paginator = sagemaker.get_paginator("list_model_packages")
        for page in paginator.paginate(ModelPackageGroupName=group):
            arns.extend(s["ModelPackageArn"] for s in page["ModelPackageSummaryList"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _MISSING:
            return []
        raise
    versions = []
    for arn in sorted(arns, key=package_version, reverse=True):
        described = sagemaker.describe_model_package(ModelPackageName=arn)
        versions.append(
            {
                "version": package_version(arn),
                "arn": str(arn),
                "status": described.get("ModelApprovalStatus"),
                "approval_description": described.get("ApprovalDescription"),
                "description": described.get("ModelPackageDescription"),
                "created": _iso(described.get("CreationTime")),
                "metrics": _metrics(described.get("CustomerMetadataProperties", {})),
            }
        )
    return versions


def config_version(config_name: str, model: str, environment: str) -> int | None:
    """The version in a deterministic config name ``<model>-v<version>-<env>-<digest>``."""
    pattern = rf"{re.escape(model)}-v(\d+)-{re.escape(environment)}-[0-9a-f]+"
    match = re.fullmatch(pattern, config_name)
    return int(match.group(1)) if match else None


def live_endpoint(sagemaker: Any, name: str, model: str, environment: str) -> dict[str, Any] | None:
    """What the model's endpoint in ``environment`` serves, or None when it does not exist.

    ``rolled_back`` is true when SageMaker reports a FailureReason on an endpoint that is not
    Failed: the last update did not take and the previous config kept serving.
    """
    try:
        live = sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _MISSING:
            return None
        raise
    config = str(live.get("EndpointConfigName", ""))
    status = live.get("EndpointStatus")
    reason = live.get("FailureReason") or None
    return {
        "endpoint": name,
        "config": config,
        "version": config_version(config, model, environment),
        "status": status,
        "failure_reason": reason,
        "rolled_back": bool(reason) and status != "Failed",
        "last_modified": _iso(live.get("LastModifiedTime")),
    }


def rollback_alarms(cloudwatch: Any, model: ModelConfig, environment: str) -> list[dict[str, Any]]:
    """The state of each rollback alarm config gives ``environment`` (``MISSING`` when the
    alarm does not exist: hubspoke creates defined ones at the next deployment)."""
    names = getattr(model.environments, environment).deployment.alarm_names
    if not names:
        return []
    found = {
        a["AlarmName"]: a
        for a in cloudwatch.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"])[
            "MetricAlarms"
        ]
    }
    return [
        {
            "name": name,
            "state": found[name]["StateValue"] if name in found else "MISSING",
            "reason": found[name].get("StateReason") if name in found else None,
            "updated": _iso(found[name].get("StateUpdatedTimestamp")) if name in found else None,
        }
        for name in names
    ]


def ledger_entry(record: LedgerRecord) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "version": record.version,
        "event": record.event,
        "environment": record.environment,
        "at": record.at,
        "actor": record.actor,
        "details": dict(record.details),
    }


def ledger_view(ledger: Ledger, model: str) -> tuple[list[LedgerRecord], dict[str, Any]]:
    """The model's readable records and the verification summary of its whole chain."""
    raw = ledger.raw(model)
    result = verify_records(model, raw)
    records: list[LedgerRecord] = []
    for _, data in raw:
        if data is None:
            continue
        try:
            records.append(LedgerRecord.from_dict(data))
        except (TypeError, ValueError):
            continue  # named by the verification summary
    summary = {
        "ok": result.ok,
        "records": len(raw),
        "verified": result.records,
        "problem": result.problem,
    }
    return records, summary


def model_board(
    hub_sagemaker: Any,
    ledger: Ledger,
    spoke_sagemaker: Mapping[str, Any],
    accounts: AccountsConfig,
    model: ModelConfig,
    spoke_cloudwatch: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    versions = registry_versions(hub_sagemaker, group_arn(accounts, model))
    records, verification = ledger_view(ledger, model.name)
    for entry in versions:
        entry["ledger"] = [ledger_entry(r) for r in records if r.version == entry["version"]]
    live = {
        env: live_endpoint(spoke_sagemaker[env], endpoint_name(model, env), model.name, env)
        for env in SERVING_ENVIRONMENTS
        if env in spoke_sagemaker
    }
    alarms = {
        env: rollback_alarms(cloudwatch, model, env)
        for env, cloudwatch in (spoke_cloudwatch or {}).items()
        if env in SERVING_ENVIRONMENTS
    }
    pending = [
        {"version": v["version"], "arn": v["arn"], "created": v["created"]}
        for v in versions
        if v["status"] == PENDING
    ]
    return {
        "name": model.name,
        "description": model.description,
        "owner": model.owner,
        "group": group_arn(accounts, model),
        "promote_dag_id": f"promote_{model.dag_suffix}",
        "production_approval": model.approval.production,
        "versions": versions,
        "live": live,
        "rollback_alarms": alarms,
        "pending_approvals": pending,
        "ledger": {
            "verification": verification,
            "recent": [ledger_entry(r) for r in records[-RECENT_LEDGER_ENTRIES:]][::-1],
        },
    }


def promotion_board(
    hub_sagemaker: Any,
    hub_s3: Any,
    spoke_sagemaker: Mapping[str, Any],
    accounts: AccountsConfig,
    models: Iterable[ModelConfig],
    spoke_cloudwatch: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The board of every model in ``models``: ``{"region", "hub_account", "models": [...]}``.

    ``spoke_sagemaker`` maps a serving environment (``staging``, ``prod``) to a SageMaker
    client in that account; environments left out are not shown. ``spoke_cloudwatch``, the
    same for CloudWatch, adds the state of each environment's rollback alarms.
    """
    ledger = Ledger(hub_s3, accounts.artifacts_bucket)
    return {
        "region": accounts.region,
        "hub_account": accounts.account_id("hub"),
        "environments": [e for e in SERVING_ENVIRONMENTS if e in spoke_sagemaker],
        "models": [
            model_board(hub_sagemaker, ledger, spoke_sagemaker, accounts, model, spoke_cloudwatch)
            for model in models
        ],
    }
