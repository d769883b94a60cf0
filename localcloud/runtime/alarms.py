"""CloudWatch metric alarm evaluation over stored datapoints, as the CloudWatch User Guide
describes it ("Using Amazon CloudWatch alarms": evaluating an alarm, M out of N, how alarm
state is evaluated when data is missing, and its two example tables).

Pure functions of an :class:`AlarmRule`, the samples of the alarm's metric and the time of
evaluation; nothing here reads moto (see :mod:`localcloud.runtime.metric_store`).

- Samples are grouped into periods of ``Period`` real seconds aligned on the epoch, one
  datapoint per period: ``SampleCount``, ``Sum``, ``Minimum``, ``Maximum``, ``Average`` or a
  percentile ``pNN``/``pNN.N`` (nearest rank over the raw values; not available for a period
  with a negative value or a statistic set whose minimum and maximum differ, as in
  CloudWatch; such a period counts as missing).
- The evaluation range is ``EvaluationPeriods + 2`` periods ending with the period in
  progress, which counts once it has data (until then the range ends with the last complete
  period): a sample is visible as soon as it is stored, as CloudWatch evaluates the data
  available at the moment.
- With at least ``EvaluationPeriods`` real datapoints in the range, the most recent ones are
  evaluated and ``TreatMissingData`` does not matter; with fewer, all real ones are evaluated
  and the rest are filled as ``TreatMissingData`` says; ALARM when at least
  ``DatapointsToAlarm`` are breaching, else OK, except that ``ignore`` keeps the state and
  ``missing`` gives INSUFFICIENT_DATA when no real datapoint is within the threshold (but
  ALARM when the oldest breaching one is at least ``DatapointsToAlarm`` periods old, the
  documented single-datapoint case).
- With no data at all in the range, ``breaching`` gives ALARM, ``notBreaching`` OK,
  ``missing`` INSUFFICIENT_DATA, and ``ignore`` keeps the current state.

The wording of StateReason follows CloudWatch's (``Threshold Crossed: 1 out of the last 1
datapoints [2.0 (12/04/26 23:40:00)] was greater than or equal to the threshold (1.0)
(minimum 1 datapoint for OK -> ALARM transition).``); StateReasonData carries ``version``,
``queryDate``, ``startDate``, ``statistic``, ``period``, ``recentDatapoints``, ``threshold``
and ``evaluatedDatapoints``.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")
EXTRA_PERIODS = 2  # the evaluation range holds this many periods more than EvaluationPeriods

_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,2})?|100)$")
_WORDS = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}
COMPARISONS = tuple(_WORDS)


class UnsupportedAlarm(ValueError):
    """An alarm this evaluator does not evaluate (its state is left as it is)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One stored datum of a metric: a raw value (count 1) or a statistic set."""

    timestamp: float  # seconds since the epoch
    count: float
    total: float
    minimum: float
    maximum: float
    unit: str | None = None

    @classmethod
    def of(cls, timestamp: float, value: float, unit: str | None = None) -> Sample:
        return cls(timestamp, 1.0, value, value, value, unit)


@dataclass(frozen=True)
class AlarmRule:
    """What PutMetricAlarm stored that decides the state of a single-metric alarm."""

    statistic: str
    period: int
    evaluation_periods: int
    threshold: float
    comparison: str
    datapoints_to_alarm: int | None = None
    treat_missing_data: str = "missing"
    unit: str | None = None

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS and not _PERCENTILE.match(self.statistic):
            raise UnsupportedAlarm(f"statistic {self.statistic!r} is not evaluated")
        if self.comparison not in _WORDS:
            raise UnsupportedAlarm(f"ComparisonOperator {self.comparison!r} is not evaluated")
        if self.period <= 0 or self.evaluation_periods <= 0:
            raise UnsupportedAlarm("Period and EvaluationPeriods must be positive")
        if self.treat_missing_data not in TREATMENTS:
            raise UnsupportedAlarm(f"TreatMissingData {self.treat_missing_data!r} is unknown")

    @property
    def to_alarm(self) -> int:
        """M of "M out of N": DatapointsToAlarm, by default EvaluationPeriods."""
        wanted = self.datapoints_to_alarm or self.evaluation_periods
        return max(1, min(wanted, self.evaluation_periods))

    def breaches(self, value: float) -> bool:
        if self.comparison == "GreaterThanOrEqualToThreshold":
            return value >= self.threshold
        if self.comparison == "GreaterThanThreshold":
            return value > self.threshold
        if self.comparison == "LessThanThreshold":
            return value < self.threshold
        return value <= self.threshold


@dataclass(frozen=True)
class Datapoint:
    """One period of the evaluation range; ``value`` is None when the period is missing."""

    start: float
    value: float | None
    count: float = 0.0


@dataclass(frozen=True)
class Decision:
    """The state an evaluation arrives at, with CloudWatch's StateReason and reason data."""

    state: str
    reason: str
    reason_data: dict[str, Any]


# ---------------------------------------------------------------------------- series
@dataclass
class Series:
    """One metric's samples in time order, kept as columns: a period is a slice found by
    bisection and its statistic a builtin over that slice, which keeps an evaluation cheap
    when a deployment evaluates on every check of its bake."""

    times: list[float] = field(default_factory=list)
    counts: list[float] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)
    minimums: list[float] = field(default_factory=list)
    maximums: list[float] = field(default_factory=list)
    units: list[str | None] = field(default_factory=list)

    @classmethod
    def of(cls, samples: Iterable[Sample]) -> Series:
        series = cls()
        for sample in samples:
            series.add(sample)
        return series

    def __len__(self) -> int:
        return len(self.times)

    def add(self, sample: Sample) -> None:
        """Insert in time order (an append when samples come in order)."""
        at = bisect.bisect_right(self.times, sample.timestamp)
        self.times.insert(at, sample.timestamp)
        self.counts.insert(at, sample.count)
        self.totals.insert(at, sample.total)
        self.minimums.insert(at, sample.minimum)
        self.maximums.insert(at, sample.maximum)
        self.units.insert(at, sample.unit)

    def since(self, start: float) -> Series:
        """A copy of the samples at or after ``start``."""
        at = bisect.bisect_left(self.times, start)
        return Series(
            self.times[at:],
            self.counts[at:],
            self.totals[at:],
            self.minimums[at:],
            self.maximums[at:],
            self.units[at:],
        )

    def between(self, start: float, end: float, unit: str | None = None) -> Series:
        """A copy of the samples in ``[start, end)`` (of ``unit`` when given)."""
        lo = bisect.bisect_left(self.times, start)
        hi = bisect.bisect_left(self.times, end, lo)
        part = Series(
            self.times[lo:hi],
            self.counts[lo:hi],
            self.totals[lo:hi],
            self.minimums[lo:hi],
            self.maximums[lo:hi],
            self.units[lo:hi],
        )
        if unit is None or part.units.count(unit) == len(part):
            return part
        return Series.of(
            Sample(t, count, total, low, high, u)
            for t, count, total, low, high, u in zip(
                part.times,
                part.counts,
                part.totals,
                part.minimums,
                part.maximums,
                part.units,
                strict=True,
            )
            if u == unit
        )


# ---------------------------------------------------------------------------- statistics
def statistic(samples: Series | Iterable[Sample], name: str) -> float | None:
    """``name`` (a statistic or ``pNN``) over ``samples``; None when it is not available."""
    series = samples if isinstance(samples, Series) else Series.of(samples)
    if not series.times:
        return None
    if name == "SampleCount":
        return sum(series.counts)
    if name == "Sum":
        return sum(series.totals)
    if name == "Average":
        count = sum(series.counts)
        return sum(series.totals) / count if count else None
    if name == "Minimum":
        return min(series.minimums)
    if name == "Maximum":
        return max(series.maximums)
    return percentile(series, float(name[1:]))


def percentile(series: Series, rank: float) -> float | None:
    """The nearest-rank ``rank``-th percentile: the smallest value with at least ``rank``% of
    the samples at or below it. Statistic sets count only when all their values are equal,
    and no percentile exists over a negative value (as in CloudWatch)."""
    if not series.times or series.minimums != series.maximums or min(series.minimums) < 0:
        return None
    total = sum(series.counts)
    if total <= 0:
        return None
    needed = max(1.0, math.ceil(rank / 100.0 * total - 1e-9))
    if series.counts.count(1.0) == len(series.counts):  # raw values: one sort, one index
        return sorted(series.minimums)[min(int(needed), len(series.minimums)) - 1]
    seen = 0.0
    weighted = sorted(zip(series.minimums, series.counts, strict=True))
    for value, weight in weighted:
        seen += weight
        if seen >= needed:
            return value
    return weighted[-1][0]


# ---------------------------------------------------------------------------- the range
def evaluation_range(
    rule: AlarmRule, samples: Series | Iterable[Sample], now: float
) -> list[Datapoint]:
    """The datapoints of the evaluation range, most recent first."""
    series = samples if isinstance(samples, Series) else Series.of(samples)
    period = float(rule.period)
    current = math.floor(now / period) * period
    if not series.between(current, current + period, rule.unit).times:
        current -= period  # the period in progress counts once it has data
    points = []
    for k in range(rule.evaluation_periods + EXTRA_PERIODS):
        start = current - k * period
        bucket = series.between(start, start + period, rule.unit)
        value = statistic(bucket, rule.statistic)
        points.append(Datapoint(start, value, sum(bucket.counts)))
    return points


def window_start(rule: AlarmRule, now: float) -> float:
    """The earliest timestamp :func:`evaluation_range` can use (to fetch no more)."""
    period = float(rule.period)
    return math.floor(now / period) * period - (rule.evaluation_periods + EXTRA_PERIODS) * period


# ---------------------------------------------------------------------------- the decision
def evaluate(
    rule: AlarmRule, samples: Series | Iterable[Sample], now: float, current_state: str
) -> Decision | None:
    """The state the alarm should be in at ``now``; None when it keeps ``current_state``."""
    return decide(rule, evaluation_range(rule, samples, now), now, current_state)


def decide(
    rule: AlarmRule, points: Sequence[Datapoint], now: float, current_state: str
) -> Decision | None:
    """Apply M-out-of-N and TreatMissingData to ``points`` (most recent first); None when
    the alarm keeps ``current_state``."""
    decision = assess(rule, points, now)
    if decision is None or decision.state == current_state:
        return None
    return decision


def assess(rule: AlarmRule, points: Sequence[Datapoint], now: float) -> Decision | None:
    """The state ``points`` (most recent first) call for, whatever the current state; None
    when they do not decide (``ignore`` without data, or ``ignore`` when the evaluated
    datapoints and the missing ones leave it open)."""
    n, m, treat = rule.evaluation_periods, rule.to_alarm, rule.treat_missing_data
    real = [p for p in points if p.value is not None]
    if not real:
        if treat == "ignore":
            return None
        if treat == "missing":
            reason = f"Insufficient Data: {_count(n, 'datapoint')} {_was(n)} unknown."
            return Decision(INSUFFICIENT_DATA, reason, _reason_data(rule, [], now))
        state = ALARM if treat == "breaching" else OK
        return Decision(state, _no_data_reason(n, treat), _reason_data(rule, [], now))
    evaluated = real[:n]  # with fewer than N real datapoints: all of them, the rest filled
    fills = n - len(evaluated)
    breaching = [p for p in evaluated if rule.breaches(_value(p))]
    within = [p for p in evaluated if not rule.breaches(_value(p))]
    filled_breaching = fills if treat == "breaching" else 0
    if len(breaching) + filled_breaching >= m:
        state = ALARM
    elif fills == 0 or treat in ("breaching", "notBreaching") or within:
        state = OK
    elif treat == "ignore":
        return None
    elif points.index(breaching[-1]) + 1 >= m:
        state = ALARM  # the oldest breaching datapoint is old enough and nothing is within
    else:
        reason = f"Insufficient Data: {_count(fills, 'datapoint')} {_was(fills)} unknown."
        return Decision(INSUFFICIENT_DATA, reason, _reason_data(rule, evaluated, now))
    if state == ALARM:
        reason = _crossed(rule, breaching, n, filled_breaching, "Breaching", negate=False)
        reason += f" (minimum {_count(m, 'datapoint')} for OK -> ALARM transition)."
    else:
        filled_within = fills if treat == "notBreaching" else 0
        reason = _crossed(rule, within, n, filled_within, "NonBreaching", negate=True)
        reason += f" (minimum {_count(n - m + 1, 'datapoint')} for ALARM -> OK transition)."
    return Decision(state, reason, _reason_data(rule, evaluated, now))


def _value(point: Datapoint) -> float:
    return point.value if point.value is not None else math.nan


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}" if k == 1 else f"{k} {noun}s"


def _was(k: int) -> str:
    return "was" if k == 1 else "were"


def _number(value: float) -> str:
    return repr(float(value))


def _stamp(epoch: float) -> str:
    """A datapoint's time as StateReason shows it: ``dd/mm/yy HH:MM:SS`` (UTC)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%d/%m/%y %H:%M:%S")


def _iso(epoch: float) -> str:
    """A time as StateReasonData shows it: ``2026-04-12T23:40:00.000+0000``."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _crossed(
    rule: AlarmRule,
    listed: Sequence[Datapoint],
    n: int,
    filled: int,
    treated_as: str,
    negate: bool,
) -> str:
    """``Threshold Crossed: 2 out of the last 3 datapoints [5.0 (12/04/26 23:40:00), ...] were
    greater than the threshold (1.0)``, plus the missing datapoints that were filled in."""
    k = len(listed) + filled
    shown = ", ".join(f"{_number(_value(p))} ({_stamp(p.start)})" for p in listed)
    words = ("not " if negate else "") + _WORDS[rule.comparison]
    text = f"Threshold Crossed: {k} out of the last {n} datapoints"
    if shown:
        text += f" [{shown}]"
    text += f" {_was(k)} {words} the threshold ({_number(rule.threshold)})"
    if filled:
        text += f", {_count(filled, 'missing datapoint')} treated as [{treated_as}]"
    return text


def _no_data_reason(n: int, treat: str) -> str:
    treated_as = "Breaching" if treat == "breaching" else "NonBreaching"
    return (
        f"Threshold Crossed: no datapoints were received for {_count(n, 'period')} and "
        f"{_count(n, 'missing datapoint')} {_was(n)} treated as [{treated_as}]."
    )


def _reason_data(rule: AlarmRule, evaluated: Sequence[Datapoint], now: float) -> dict[str, Any]:
    """StateReasonData: what was queried and the datapoints evaluated (most recent first)."""
    data: dict[str, Any] = {"version": "1.0", "queryDate": _iso(now)}
    if evaluated:
        data["startDate"] = _iso(evaluated[-1].start)
    data.update(
        statistic=rule.statistic,
        period=rule.period,
        recentDatapoints=[_value(p) for p in reversed(evaluated)],
        threshold=float(rule.threshold),
        evaluatedDatapoints=[
            {"timestamp": _iso(p.start), "sampleCount": p.count, "value": _value(p)}
            for p in evaluated
        ],
    )
    return data
