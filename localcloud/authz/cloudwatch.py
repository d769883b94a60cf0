"""IAM checks for CloudWatch (metrics, alarms, dashboards), as the Service Authorization
Reference lists them.

Alarms are resources (``arn:aws:cloudwatch:<region>:<account>:alarm:<name>``) and so are
dashboards (``arn:aws:cloudwatch::<account>:dashboard/<name>``, no region); metrics are not,
so metric operations are checked on ``*``, and PutMetricData is scoped with the
``cloudwatch:namespace`` condition key instead. Parameters arrive structured (awsJson, RPC v2
CBOR) or flattened (query: ``AlarmNames.member.1``); both read the same here.
"""

from __future__ import annotations

from typing import Any

from localcloud.authz.checks import Check, Target

# Operations that name one alarm in AlarmName.
_ONE_ALARM = {"PutMetricAlarm", "PutCompositeAlarm", "SetAlarmState"}
# Operations that name alarms in AlarmNames, every one of which must be allowed.
_ALARM_LIST = {"DeleteAlarms", "EnableAlarmActions", "DisableAlarmActions"}
# Operations whose AlarmName(s) or AlarmNamePrefix only narrow what is read.
_ALARM_READS = {"DescribeAlarms", "DescribeAlarmHistory"}
_TAGGING = {"TagResource", "UntagResource", "ListTagsForResource"}
_ACTION_LISTS = ("AlarmActions", "OKActions", "InsufficientDataActions")


def _members(params: dict[str, Any], key: str) -> list[Any]:
    """A list parameter, structured or flattened as query sends it (``Key.member.N``)."""
    value = params.get(key)
    if isinstance(value, list):
        return value
    prefix = f"{key}.member."
    flat = {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}
    return [flat[i] for i in sorted((i for i in flat if i.isdigit()), key=int)]


def _tags(params: dict[str, Any]) -> dict[str, str]:
    """The tags a request sets: ``Tags`` as a list of Key/Value, or ``Tags.member.N.Key``."""
    structured = params.get("Tags")
    if isinstance(structured, list):
        return {str(t["Key"]): str(t.get("Value", "")) for t in structured if "Key" in t}
    tags: dict[str, str] = {}
    index = 1
    while f"Tags.member.{index}.Key" in params:
        key = str(params[f"Tags.member.{index}.Key"])
        tags[key] = str(params.get(f"Tags.member.{index}.Value", ""))
        index += 1
    return tags


def _alarm(target: Target, name: str) -> str:
    return target.arn("cloudwatch", f"alarm:{name}")


def _dashboard(target: Target, name: str) -> str:
    return f"arn:aws:cloudwatch::{target.account}:dashboard/{name}"


def _tag_context(params: dict[str, Any]) -> dict[str, Any]:
    """``aws:RequestTag/<key>`` and ``aws:TagKeys`` of the tags a request sets."""
    tags = _tags(params)
    if not tags:
        return {}
    context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    context["aws:TagKeys"] = list(tags)
    return context


def _alarm_context(params: dict[str, Any]) -> dict[str, Any]:
    """Tags, and ``cloudwatch:AlarmActions``: every action the alarm may take on a state
    change (its ALARM, OK and INSUFFICIENT_DATA actions)."""
    context = _tag_context(params)
    actions = [str(a) for key in _ACTION_LISTS for a in _members(params, key)]
    if actions:
        context["cloudwatch:AlarmActions"] = actions
    return context


def _alarm_reads(params: dict[str, Any], target: Target) -> list[str]:
    """The alarms a Describe call reads: the named ones, the prefix, or all of them."""
    names = _members(params, "AlarmNames") or (
        [params["AlarmName"]] if params.get("AlarmName") else []
    )
    if names:
        return [_alarm(target, str(n)) for n in names]
    prefix = params.get("AlarmNamePrefix")
    return [_alarm(target, f"{prefix}*" if prefix else "*")]


def _resources(operation: str, params: dict[str, Any], target: Target) -> list[str]:
    if operation in _ONE_ALARM and params.get("AlarmName"):
        return [_alarm(target, str(params["AlarmName"]))]
    if operation in _ALARM_LIST and _members(params, "AlarmNames"):
        return [_alarm(target, str(n)) for n in _members(params, "AlarmNames")]
    if operation in _ALARM_READS:
        return _alarm_reads(params, target)
    if operation in {"PutDashboard", "GetDashboard"} and params.get("DashboardName"):
        return [_dashboard(target, str(params["DashboardName"]))]
    if operation == "DeleteDashboards" and _members(params, "DashboardNames"):
        return [_dashboard(target, str(n)) for n in _members(params, "DashboardNames")]
    if operation in _TAGGING and params.get("ResourceARN"):
        return [str(params["ResourceARN"])]
    return ["*"]


def cloudwatch_checks(operation: str, params: dict[str, Any], target: Target) -> list[Check]:
    action = f"cloudwatch:{operation}"
    context: dict[str, Any] = {}
    if operation in {"PutMetricAlarm", "PutCompositeAlarm"}:
        context = _alarm_context(params)
    elif operation == "TagResource":
        context = _tag_context(params)
    elif operation == "PutMetricData" and params.get("Namespace"):
        context = {"cloudwatch:namespace": str(params["Namespace"])}
    return [Check(action, resource, context) for resource in _resources(operation, params, target)]
