"""Alarm states that are current when read.

CloudWatch evaluates every metric alarm on a schedule, whoever watches it. localcloud
evaluates an account's alarms from the stored datapoints
(:func:`localcloud.runtime.metric_store.evaluate_alarms`) just before a call that reads alarm
state, so DescribeAlarms and the rest answer with the state the data calls for at that
moment; the call itself then goes to moto as usual. Evaluation skips alarms whose inputs have
not changed, so an idle account costs a lookup per alarm.
"""

from __future__ import annotations

from localcloud.credentials import Session
from localcloud.protocol import AwsRequest
from localcloud.runtime.metric_store import evaluate_alarms

# DescribeAlarmHistory would read state too, but moto does not implement it.
READS_STATE = frozenset({"DescribeAlarms", "DescribeAlarmsForMetric"})


def evaluate_before_reads(session: Session, request: AwsRequest) -> None:
    """Gateway handler for ``cloudwatch``: evaluates, never answers (None: on to moto)."""
    if request.operation in READS_STATE:
        evaluate_alarms(session.account, request.region)
