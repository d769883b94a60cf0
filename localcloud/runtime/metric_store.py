"""Endpoint metrics into moto's CloudWatch, and alarms evaluated from what it stores.

:func:`publish_invocation` is what SageMaker does after every InvokeEndpoint: one datapoint
each of ``Invocations``, ``Invocation4XXErrors``, ``Invocation5XXErrors``, ``ModelLatency``
and ``OverheadLatency`` in ``AWS/SageMaker`` with the dimensions ``EndpointName`` and
``VariantName``, into the endpoint owner's account and region (moto's backend API, in
process). It never raises: a metric that cannot be stored must not fail the invocation.

:func:`evaluate_stored_alarm` evaluates a metric alarm (:mod:`localcloud.runtime.alarms`) from
the backend's stored datapoints and records a state change as SetAlarmState does (history,
StateReason, StateReasonData, StateUpdatedTimestamp); a state set with SetAlarmState holds
until a datapoint newer than it is stored. The datapoints of each backend are
indexed by series incrementally (:class:`_SeriesIndex`), so an evaluation reads only the new
datapoints and the alarm's own window, however much has been stored before.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.models import (
    Alarm,
    CloudWatchBackend,
    MetricAggregatedDatum,
    MetricDatum,
    MetricDatumBase,
    cloudwatch_backends,
)
from moto.core.utils import utcnow

from localcloud.runtime.alarms import (
    AlarmRule,
    Sample,
    Series,
    UnsupportedAlarm,
    evaluate,
    window_start,
)

NAMESPACE = "AWS/SageMaker"
_log = logging.getLogger(__name__)

SeriesKey = tuple[str, str, frozenset[tuple[str, str]]]


# ---------------------------------------------------------------------------- publishing
@dataclass(frozen=True)
class Invocation:
    """What one InvokeEndpoint did, as SageMaker's invocation metrics describe it.

    ``model_status`` is the container's HTTP status (None when no container answered);
    ``model_seconds`` the round trip to the container; ``total_seconds`` the whole request."""

    endpoint: str
    variant: str
    model_status: int | None
    model_seconds: float | None
    total_seconds: float


def invocation_metrics(invocation: Invocation, timestamp: datetime) -> list[dict[str, Any]]:
    """PutMetricData's MetricData for ``invocation`` (units as the SageMaker guide lists them:
    counts in ``None``, latencies in ``Microseconds``)."""
    dimensions = [
        {"Name": "EndpointName", "Value": invocation.endpoint},
        {"Name": "VariantName", "Value": invocation.variant},
    ]
    status = invocation.model_status
    client_error = status is not None and 400 <= status < 500
    server_error = status is None or status >= 500  # no container answered: a 5XX too
    model = invocation.model_seconds or 0.0
    values: list[tuple[str, float, str]] = [
        ("Invocations", 1.0, "None"),
        ("Invocation4XXErrors", 1.0 if client_error else 0.0, "None"),
        ("Invocation5XXErrors", 1.0 if server_error else 0.0, "None"),
    ]
    if invocation.model_seconds is not None:
        values.append(("ModelLatency", round(model * 1e6), "Microseconds"))
    overhead = max(invocation.total_seconds - model, 0.0)
    values.append(("OverheadLatency", round(overhead * 1e6), "Microseconds"))
    return [
        {
            "MetricName": name,
            "Value": float(value),
            "Unit": unit,
            "Dimensions": dimensions,
            "Timestamp": timestamp,
        }
        for name, value, unit in values
    ]


# localcloud keeps metric data this long (CloudWatch keeps it for weeks; a process that
# serves traffic for days would otherwise grow without bound). Alarms whose window is longer
# see only what is kept.
RETENTION_SECONDS = float(os.environ.get("LOCALCLOUD_METRIC_RETENTION_SECONDS", 3 * 3600))
PRUNE_EVERY = 1000  # invocations per backend between two prunes


def publish_invocation(account: str, region: str, invocation: Invocation) -> None:
    """Store ``invocation``'s metrics in ``account``/``region``'s CloudWatch; never raises."""
    try:
        backend = cloudwatch_backends[account][region]
        backend.put_metric_data(NAMESPACE, invocation_metrics(invocation, utcnow()))
        _index(backend).count_publish(backend)
    except Exception:  # metrics are best effort: the invocation has been answered
        _log.warning("could not store the metrics of an invocation", exc_info=True)


def prune(backend: CloudWatchBackend, before: float) -> int:
    """Drop ``backend``'s datapoints older than ``before`` (epoch seconds); how many."""
    return _index(backend).prune(backend, before)


# ---------------------------------------------------------------------------- reading
def _epoch(moment: datetime) -> float:
    """moto stores naive UTC datetimes (and aware ones when given them)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _key(datum: MetricDatumBase) -> SeriesKey:
    dimensions = frozenset((str(d.name), str(d.value)) for d in datum.dimensions)
    return datum.namespace, datum.name, dimensions


def _sample(datum: MetricDatumBase) -> Sample | None:
    unit = datum.unit if isinstance(datum.unit, str) else None
    moment = _epoch(datum.timestamp)
    if isinstance(datum, MetricDatum):
        return Sample.of(moment, float(datum.value), unit)
    if isinstance(datum, MetricAggregatedDatum):
        return Sample(moment, datum.sample_count, datum.sum, datum.min, datum.max, unit)
    return None


class _SeriesIndex:
    """One backend's ``metric_data`` by series, in time order, caught up on each read.

    moto only ever appends to that list; a list that was replaced (a reset) is indexed again
    from the start. Removing datapoints in place must go through :meth:`prune`, which starts
    the index over (a list emptied behind its back and refilled would be read wrongly)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._source: list[MetricDatumBase] | None = None
        self._seen = 0
        self._series: dict[SeriesKey, Series] = {}
        self._publishes = 0

    def count_publish(self, backend: CloudWatchBackend) -> None:
        """Every :data:`PRUNE_EVERY` invocations, drop what is older than the retention."""
        with self._lock:
            self._publishes += 1
            due = self._publishes % PRUNE_EVERY == 0
        if due:
            self.prune(backend, time.time() - RETENTION_SECONDS)

    def prune(self, backend: CloudWatchBackend, before: float) -> int:
        """Remove older datapoints from moto's list in place; the index starts over."""
        with self._lock:
            source = backend.metric_data
            kept = [d for d in source if _epoch(d.timestamp) >= before]
            dropped = len(source) - len(kept)
            if dropped:
                source[:] = kept
                self._source, self._seen, self._series = None, 0, {}
            return dropped

    def read(self, backend: CloudWatchBackend, key: SeriesKey, since: float) -> tuple[int, Series]:
        """How many datapoints the series has, and a copy of those at or after ``since``."""
        with self._lock:
            self._catch_up(backend.metric_data)
            series = self._series.get(key)
            return (len(series), series.since(since)) if series else (0, Series())

    def _catch_up(self, source: list[MetricDatumBase]) -> None:
        if source is not self._source or len(source) < self._seen:
            self._source, self._seen, self._series = source, 0, {}
        end = len(source)
        for datum in source[self._seen : end]:
            try:
                key, sample = _key(datum), _sample(datum)
            except (AttributeError, TypeError, ValueError):  # not a datum moto would store
                continue
            if sample is not None:
                self._series.setdefault(key, Series()).add(sample)
        self._seen = end


_indexes: weakref.WeakKeyDictionary[CloudWatchBackend, _SeriesIndex] = weakref.WeakKeyDictionary()
_indexes_lock = threading.Lock()


def _index(backend: CloudWatchBackend) -> _SeriesIndex:
    with _indexes_lock:
        index = _indexes.get(backend)
        if index is None:
            index = _indexes[backend] = _SeriesIndex()
        return index


# ---------------------------------------------------------------------------- evaluating
def rule_of(alarm: Alarm) -> AlarmRule:
    """The evaluation rule of a moto alarm; :class:`UnsupportedAlarm` for metric math,
    composite and anomaly-detection alarms."""
    if alarm.metric_data_queries or getattr(alarm, "rule", None) or not alarm.metric_name:
        raise UnsupportedAlarm(f"alarm {alarm.name} is not a single-metric alarm")
    return AlarmRule(
        statistic=str(alarm.extended_statistic or alarm.statistic or ""),
        period=int(alarm.period or 0),
        evaluation_periods=int(alarm.evaluation_periods or 0),
        threshold=float(alarm.threshold),
        comparison=str(alarm.comparison_operator),
        datapoints_to_alarm=int(alarm.datapoints_to_alarm) if alarm.datapoints_to_alarm else None,
        treat_missing_data=str(alarm.treat_missing_data or "missing"),
        unit=alarm.unit or None,
    )


@dataclass(frozen=True)
class _Evaluated:
    rule: AlarmRule
    series_length: int
    period_start: float
    state: str


# The last evaluation of each alarm: skipped when nothing it depends on changed.
_last: weakref.WeakKeyDictionary[Alarm, _Evaluated] = weakref.WeakKeyDictionary()
# When the evaluator last set each alarm's state: any later change came from SetAlarmState.
_set_here: weakref.WeakKeyDictionary[Alarm, datetime] = weakref.WeakKeyDictionary()
_update_lock = threading.Lock()


def _held(alarm: Alarm, samples: Series) -> bool:
    """Whether a state set with SetAlarmState still holds: until a datapoint newer than it
    is stored (on AWS it lasts until the next scheduled evaluation). The state an alarm is
    created with does not hold: data stored before the alarm is evaluated at once."""
    if not alarm.history or _set_here.get(alarm) == alarm.state_updated_timestamp:
        return False
    newest = samples.times[-1] if samples.times else float("-inf")
    return newest <= _epoch(alarm.state_updated_timestamp)


def evaluate_stored_alarm(
    backend: CloudWatchBackend, alarm: Alarm, now: float | None = None
) -> bool:
    """Evaluate ``alarm`` from ``backend``'s datapoints and set its state when it changes
    (True then). Alarms the evaluator does not handle are left as they are."""
    try:
        rule = rule_of(alarm)
    except UnsupportedAlarm:
        return False
    moment = time.time() if now is None else now
    key: SeriesKey = (
        alarm.namespace,
        alarm.metric_name,
        frozenset((str(d.name), str(d.value)) for d in alarm.dimensions),
    )
    length, samples = _index(backend).read(backend, key, window_start(rule, moment))
    with _update_lock:
        if _held(alarm, samples):
            return False
        period_start = moment - moment % rule.period
        stamp = _Evaluated(rule, length, period_start, alarm.state_value)
        if _last.get(alarm) == stamp:
            return False
        decision = evaluate(rule, samples, moment, alarm.state_value)
        if decision is not None:
            reason_data = json.dumps(decision.reason_data, separators=(",", ":"))
            alarm.update_state(decision.reason, reason_data, decision.state)
            _set_here[alarm] = alarm.state_updated_timestamp
            stamp = _Evaluated(rule, length, period_start, decision.state)
        _last[alarm] = stamp
        return decision is not None


def evaluate_alarm_named(account: str, region: str, name: str) -> str | None:
    """Evaluate the alarm ``name`` of ``account``/``region`` and return its state (None when
    there is no such alarm). Evaluation errors are logged and leave the state as it was."""
    backend = cloudwatch_backends[account][region]
    alarm = backend.alarms.get(name)
    if alarm is None:
        return None
    try:
        evaluate_stored_alarm(backend, alarm)
    except Exception:
        _log.warning("could not evaluate alarm %s", name, exc_info=True)
    return str(alarm.state_value)


def evaluate_alarms(account: str, region: str) -> None:
    """Evaluate every metric alarm of ``account``/``region``, as CloudWatch's scheduled
    evaluation would have by now: called before an alarm's state is read. Unchanged inputs
    cost a lookup; errors are logged and leave the state as it was."""
    backend = cloudwatch_backends[account][region]
    for alarm in list(backend.alarms.values()):
        try:
            evaluate_stored_alarm(backend, alarm)
        except Exception:
            _log.warning("could not evaluate alarm %s", alarm.name, exc_info=True)


# ---------------------------------------------------------------------------- alarm state
INITIAL_REASON = "Unchecked: Initial alarm creation"


def start_state(alarm: Alarm, previous: Alarm | None) -> None:
    """The state PutMetricAlarm leaves ``alarm`` in: a new alarm is INSUFFICIENT_DATA until
    its first evaluation; an update overwrites the configuration but leaves the state (and
    its history) as it was, as the CloudWatch API reference says."""
    if previous is None:
        alarm.state_value = "INSUFFICIENT_DATA"
        alarm.state_reason, alarm.state_reason_data = INITIAL_REASON, "{}"
        return
    alarm.state_value, alarm.state_reason = previous.state_value, previous.state_reason
    alarm.state_reason_data = previous.state_reason_data
    alarm.state_updated_timestamp = previous.state_updated_timestamp
    alarm.history = previous.history
    with _update_lock:
        if previous in _set_here:
            _set_here[alarm] = _set_here[previous]
