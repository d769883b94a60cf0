"""Alarm states over HTTP are what CloudWatch would show: a new alarm is INSUFFICIENT_DATA,
an updated one keeps its state, and reading alarms evaluates them from the stored data
without any deployment watching."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from hubspoke.config import load_config

if TYPE_CHECKING:
    from localcloud.server import LocalCloud

ACCOUNTS = load_config().accounts
PROD = ACCOUNTS.account_id("prod")
NAMESPACE = "hubspoke/tests"


@pytest.fixture
def cloudwatch(localcloud: LocalCloud) -> Any:
    return localcloud.client("cloudwatch", localcloud.root_session(PROD))


def _alarm(cloudwatch: Any, name: str, **changes: Any) -> None:
    cloudwatch.put_metric_alarm(
        **{
            "AlarmName": name,
            "Namespace": NAMESPACE,
            "MetricName": "Errors",
            "Dimensions": [{"Name": "Alarm", "Value": name}],
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            **changes,
        }
    )


def _errors(cloudwatch: Any, name: str, value: float) -> None:
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": "Errors",
                "Dimensions": [{"Name": "Alarm", "Value": name}],
                "Value": value,
                "Timestamp": datetime.now(UTC),
            }
        ],
    )


def _described(cloudwatch: Any, name: str) -> dict[str, Any]:
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarm  # type: ignore[no-any-return]


def test_a_new_alarm_is_insufficient_data_until_data_decides(cloudwatch: Any) -> None:
    name = f"errors-{uuid.uuid4().hex[:8]}"
    _alarm(cloudwatch, name)
    alarm = _described(cloudwatch, name)
    assert (alarm["StateValue"], alarm["StateReason"]) == (
        "INSUFFICIENT_DATA",
        "Unchecked: Initial alarm creation",
    )

    _errors(cloudwatch, name, 3)
    alarm = _described(cloudwatch, name)  # nothing but this read evaluated it
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints")


def test_with_not_breaching_a_new_alarm_without_data_reads_ok(cloudwatch: Any) -> None:
    name = f"quiet-{uuid.uuid4().hex[:8]}"
    _alarm(cloudwatch, name, TreatMissingData="notBreaching")
    alarm = _described(cloudwatch, name)
    assert alarm["StateValue"] == "OK"
    assert "treated as [NonBreaching]" in alarm["StateReason"]


def test_an_update_keeps_the_state_and_its_reason(cloudwatch: Any) -> None:
    name = f"kept-{uuid.uuid4().hex[:8]}"
    _alarm(cloudwatch, name)
    _errors(cloudwatch, name, 3)
    assert _described(cloudwatch, name)["StateValue"] == "ALARM"
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="looked at it")

    _alarm(cloudwatch, name, AlarmDescription="now with a description")
    alarm = _described(cloudwatch, name)
    assert alarm["AlarmDescription"] == "now with a description"
    assert (alarm["StateValue"], alarm["StateReason"]) == ("OK", "looked at it")

    # The new configuration decides as soon as newer data is stored.
    _alarm(cloudwatch, name, Threshold=10)
    _errors(cloudwatch, name, 3)
    assert _described(cloudwatch, name)["StateValue"] == "OK"
    _errors(cloudwatch, name, 11)
    assert _described(cloudwatch, name)["StateValue"] == "ALARM"


def test_alarms_for_a_metric_are_evaluated_when_read(cloudwatch: Any) -> None:
    name = f"by-metric-{uuid.uuid4().hex[:8]}"
    _alarm(cloudwatch, name)
    _errors(cloudwatch, name, 5)
    found = cloudwatch.describe_alarms_for_metric(
        Namespace=NAMESPACE,
        MetricName="Errors",
        Dimensions=[{"Name": "Alarm", "Value": name}],
    )["MetricAlarms"]
    # moto filters by namespace and metric name only: other tests' alarms may be listed too.
    assert {a["AlarmName"]: a["StateValue"] for a in found}[name] == "ALARM"
