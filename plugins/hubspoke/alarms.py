"""The CloudWatch alarms that guard a blue/green deployment, made sure of before it starts.

A blue/green update names its rollback alarms; SageMaker watches them during each bake and
rolls back when one goes into ALARM. An alarm that does not exist guards nothing, so before
a deployment starts: alarms config *defines* are created or updated (PutMetricAlarm) on the
endpoint's own metrics; alarms config only *names* must exist already. Nothing touches the
endpoint until this has succeeded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubspoke.config.models import COMPARISONS, RollbackAlarm

if TYPE_CHECKING:
    from hubspoke.config import ModelConfig

NAMESPACE = "AWS/SageMaker"
# What DescribeAlarms returns that PutMetricAlarm sets: compared to skip needless updates.
_COMPARED = (
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "AlarmDescription",
)


class MissingRollbackAlarm(ValueError):
    """An alarm config names (but does not define) does not exist in the spoke."""


def definition(
    alarm: RollbackAlarm, model: ModelConfig, environment: str, endpoint: str
) -> dict[str, Any]:
    """PutMetricAlarm's arguments for ``alarm`` on ``endpoint``'s variant."""
    variant = getattr(model.environments, environment).variant_name
    statistic: dict[str, Any] = (
        {"ExtendedStatistic": alarm.statistic}
        if alarm.statistic.startswith("p")
        else {"Statistic": alarm.statistic}
    )
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": (
            f"hubspoke rollback alarm for {model.name} in {environment} "
            f"({alarm.metric} {alarm.statistic} {alarm.comparison} {alarm.threshold:g}); "
            "managed from config/models.yaml"
        ),
        "Namespace": NAMESPACE,
        "MetricName": alarm.metric,
        "Dimensions": [
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": variant},
        ],
        **statistic,
        "Period": alarm.period_seconds,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm or alarm.evaluation_periods,
        "Threshold": float(alarm.threshold),
        "ComparisonOperator": COMPARISONS[alarm.comparison],
        "TreatMissingData": alarm.treat_missing_data,
    }


def _differs(wanted: dict[str, Any], existing: dict[str, Any] | None) -> bool:
    if existing is None:
        return True
    for key in _COMPARED:
        have, want = existing.get(key), wanted.get(key)
        if key == "Dimensions":
            have = sorted((d["Name"], d["Value"]) for d in have or [])
            want = sorted((d["Name"], d["Value"]) for d in want or [])
        if have != want:
            return True
    return False


def ensure_rollback_alarms(
    cloudwatch: Any, model: ModelConfig, environment: str, endpoint: str
) -> dict[str, str]:
    """Make the environment's rollback alarms ready: ``{name: created|updated|unchanged|
    exists}``. Raises :class:`MissingRollbackAlarm`, before changing anything, when an alarm
    config only names is not there."""
    alarms = getattr(model.environments, environment).deployment.rollback_alarms
    if not alarms:
        return {}
    names = [a if isinstance(a, str) else a.name for a in alarms]
    existing: dict[str, dict[str, Any]] = {}
    paginator = cloudwatch.get_paginator("describe_alarms")
    for page in paginator.paginate(AlarmNames=names, AlarmTypes=["MetricAlarm"]):
        existing.update({a["AlarmName"]: a for a in page["MetricAlarms"]})
    missing = [a for a in alarms if isinstance(a, str) and a not in existing]
    if missing:
        raise MissingRollbackAlarm(
            f"rollback alarm(s) {', '.join(missing)} of {model.name} in {environment} do not "
            f"exist in the {environment} account: create them, or define them under "
            "rollback_alarms in config/models.yaml (metric, statistic, threshold) so hubspoke "
            "manages them"
        )
    outcome: dict[str, str] = {}
    for alarm in alarms:
        if isinstance(alarm, str):
            outcome[alarm] = "exists"
            continue
        wanted = definition(alarm, model, environment, endpoint)
        if not _differs(wanted, existing.get(alarm.name)):
            outcome[alarm.name] = "unchanged"
            continue
        cloudwatch.put_metric_alarm(**wanted)
        outcome[alarm.name] = "updated" if alarm.name in existing else "created"
    return outcome
