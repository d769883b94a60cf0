"""Where moto's behaviour would contradict localcloud's.

moto evaluates bucket policies itself, ignoring principals and conditions, so a statement
such as "deny ledger/ to principals outside the hub account" denies everyone, the hub
included. localcloud evaluates every request with ``hubspoke.iam`` before moto sees it;
moto's check is switched off so the one evaluation that decides is the faithful one.

moto also keeps every model instance it ever made in a class-level list, for its dashboard
(which localcloud does not serve). For CloudWatch datapoints, five per InvokeEndpoint, that
list would keep every datapoint alive however old; they are not tracked, so the retention in
:mod:`localcloud.runtime.metric_store` can free them.

moto's PutMetricAlarm makes every alarm anew in OK. CloudWatch creates an alarm in
INSUFFICIENT_DATA and leaves the state of an alarm it updates as it was
(:func:`localcloud.runtime.metric_store.start_state`).
"""

from __future__ import annotations

from typing import Any

from moto.cloudwatch.models import (
    Alarm,
    CloudWatchBackend,
    MetricAggregatedDatum,
    MetricDatum,
)
from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket

_applied = False


def _neutral(self: FakeBucket, action: str, resource: str) -> Any:
    return PermissionResult.NEUTRAL


class _Untracked(list[Any]):
    """A class-level instance list that keeps nothing."""

    def append(self, item: Any) -> None:
        return None


_put_metric_alarm = CloudWatchBackend.put_metric_alarm


def _put_metric_alarm_keeping_state(
    self: CloudWatchBackend, name: str, *args: Any, **kwargs: Any
) -> Alarm:
    from localcloud.runtime.metric_store import start_state

    previous = self.alarms.get(name)
    alarm = _put_metric_alarm(self, name, *args, **kwargs)
    start_state(alarm, previous)
    return alarm


def apply() -> None:
    """Idempotent; called when a LocalCloud is created."""
    global _applied
    if not _applied:
        FakeBucket.get_permission = _neutral  # type: ignore[method-assign]
        CloudWatchBackend.put_metric_alarm = _put_metric_alarm_keeping_state  # type: ignore[method-assign]
        for datum in (MetricDatum, MetricAggregatedDatum):
            setattr(datum, "instances_tracked", _Untracked())  # noqa: B010 (moto sets it per class)
        _applied = True
