"""Auto-rollback as on AWS: every InvokeEndpoint publishes SageMaker's invocation metrics into
the endpoint owner's CloudWatch, alarms are evaluated from those datapoints as CloudWatch
documents it, and a blue/green bake rolls back when its traffic breaches an alarm.

The evaluator is tested on synthetic datapoints (no server), including the two example tables
of the CloudWatch User Guide ("How alarm state is evaluated when data is missing"). The
endpoints serve a tiny model of their own (a label, optionally a failure) so the metrics are
predictable; everything else is the staging account's real governance, as in
``test_endpoints.py``: artifacts in the hub bucket, the staging deployer's session, the staging
execution role reading them.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.cloudwatch.models import (
    CloudWatchBackend,
    MetricDataQuery,
    MetricDatum,
    cloudwatch_backends,
)
from moto.core.utils import utcnow
from staging_deployer import BUCKET, STAGING, StagingDeployer, tarball

from localcloud.runtime import metric_store
from localcloud.runtime.alarms import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    AlarmRule,
    Datapoint,
    Sample,
    UnsupportedAlarm,
    assess,
    evaluate,
    evaluation_range,
    statistic,
)
from localcloud.runtime.deployments import TIME_SCALE_ENV
from localcloud.runtime.metric_store import (
    NAMESPACE,
    Invocation,
    evaluate_stored_alarm,
    invocation_metrics,
    publish_invocation,
)
from localcloud.server import LocalCloud

ELSEWHERE = "000000000042"  # an account no other test uses: evaluator tests on moto's backend
MINUTE = timedelta(minutes=1)
NOW = datetime(2026, 4, 12, 23, 40, 15, tzinfo=UTC).timestamp()  # 5 s into a 10 s period

# A model server script of the container contract: the default input_fn decodes JSON (and
# answers 415 for other types); a negative input, or a model marked "fail", raises (500).
INFERENCE = """
import json, os, time

def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        return json.load(f)

def predict_fn(data, model):
    if model.get("fail") or (data < 0).any():
        raise ValueError("this model cannot answer that")
    time.sleep(model.get("delay", 0))
    return model["label"]

def output_fn(prediction, accept):
    return json.dumps({"label": prediction}), "application/json"
"""


# ============================================================================ the evaluator
def _rule(**overrides: Any) -> AlarmRule:
    fields: dict[str, Any] = {
        "statistic": "Sum",
        "period": 60,
        "evaluation_periods": 1,
        "threshold": 1.0,
        "comparison": "GreaterThanOrEqualToThreshold",
    }
    return AlarmRule(**{**fields, **overrides})


def _points(pattern: str, period: int = 300) -> list[Datapoint]:
    """The User Guide's notation, oldest first: ``0`` within, ``X`` breaching, ``-`` missing
    (0.0 and 1.0 against GreaterThanThreshold 0.5); returned most recent first."""
    cells = pattern.split()
    values = {"0": 0.0, "X": 1.0, "-": None}
    newest = NOW - NOW % period
    return [
        Datapoint(newest - k * period, values[cell], 0.0 if cell == "-" else 1.0)
        for k, cell in enumerate(reversed(cells))
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("SampleCount", 4.0), ("Sum", 10.0), ("Average", 2.5), ("Minimum", 1.0), ("Maximum", 4.0)],
)
def test_each_statistic_over_raw_values(name: str, expected: float) -> None:
    samples = [Sample.of(NOW, v) for v in (3.0, 1.0, 4.0, 2.0)]
    assert statistic(samples, name) == expected


def test_statistic_sets_count_with_their_sample_counts() -> None:
    samples = [Sample(NOW, 3.0, 30.0, 5.0, 15.0), Sample.of(NOW, 2.0)]
    assert statistic(samples, "SampleCount") == 4.0
    assert statistic(samples, "Sum") == 32.0
    assert statistic(samples, "Average") == 8.0
    assert (statistic(samples, "Minimum"), statistic(samples, "Maximum")) == (2.0, 15.0)
    assert statistic(samples, "p50") is None  # a set with distinct values hides its values
    assert statistic([Sample(NOW, 3.0, 21.0, 7.0, 7.0), Sample.of(NOW, 1.0)], "p50") == 7.0


def test_percentiles_are_nearest_rank() -> None:
    samples = [Sample.of(NOW, float(v)) for v in range(1, 101)]  # 1..100
    assert statistic(samples, "p50") == 50.0
    assert statistic(samples, "p90") == 90.0
    assert statistic(samples, "p99.5") == 100.0
    assert statistic(samples, "p0.5") == 1.0
    assert statistic([Sample.of(NOW, 7.0)], "p99") == 7.0
    assert statistic([Sample.of(NOW, -1.0), Sample.of(NOW, 2.0)], "p50") is None  # negative


def test_a_percentile_alarm_breaches_on_its_tail() -> None:
    samples = [Sample.of(NOW - 1, 100.0)] * 95 + [Sample.of(NOW - 1, 9000.0)] * 5
    p95 = _rule(statistic="p95", threshold=500.0, comparison="GreaterThanThreshold", period=10)
    p96 = _rule(statistic="p96", threshold=500.0, comparison="GreaterThanThreshold", period=10)
    decision = evaluate(p95, samples, NOW, ALARM)
    assert decision is not None and decision.state == OK  # the 95th of 100 values is 100.0
    decision = evaluate(p96, samples, NOW, OK)
    assert decision is not None and decision.state == ALARM


@pytest.mark.parametrize(
    ("comparison", "breaching"),
    [
        ("GreaterThanOrEqualToThreshold", {2.0, 3.0}),
        ("GreaterThanThreshold", {3.0}),
        ("LessThanThreshold", {1.0}),
        ("LessThanOrEqualToThreshold", {1.0, 2.0}),
    ],
)
def test_each_comparison_operator(comparison: str, breaching: set[float]) -> None:
    rule = _rule(comparison=comparison, threshold=2.0)
    assert {v for v in (1.0, 2.0, 3.0) if rule.breaches(v)} == breaching


def test_unsupported_alarms_are_refused() -> None:
    with pytest.raises(UnsupportedAlarm):
        _rule(comparison="LessThanLowerOrGreaterThanUpperThreshold")
    with pytest.raises(UnsupportedAlarm):
        _rule(statistic="tm99")
    with pytest.raises(UnsupportedAlarm):
        _rule(treat_missing_data="sometimes")


def test_datapoints_to_alarm_is_m_out_of_n() -> None:
    two_of_three = _rule(
        comparison="GreaterThanThreshold", threshold=0.5, evaluation_periods=3, period=300
    )
    assert two_of_three.to_alarm == 3  # DatapointsToAlarm defaults to EvaluationPeriods
    m_of_n = _rule(
        comparison="GreaterThanThreshold",
        threshold=0.5,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        period=300,
    )
    for pattern, three, two in [
        ("X X X", ALARM, ALARM),
        ("X 0 X", OK, ALARM),  # not consecutive: still 2 of the last 3
        ("X X 0", OK, ALARM),
        ("X 0 0", OK, OK),
        ("X X 0 0 X", OK, OK),  # only the 3 most recent count
    ]:
        for rule, expected in ((two_of_three, three), (m_of_n, two)):
            decision = assess(rule, _points(pattern), NOW)
            assert decision is not None and decision.state == expected, (pattern, rule)


# The CloudWatch User Guide's tables: Period 5 minutes, 5 datapoints retrieved, oldest first.
# "keep" = the current state is retained. Every cell is the guide's.
_TABLE_3_OF_3 = [
    ("0 - X - X", OK, OK, OK, OK),
    ("0 - - - -", OK, OK, OK, OK),
    ("- - - - -", INSUFFICIENT_DATA, "keep", ALARM, OK),
    ("0 X X - X", ALARM, ALARM, ALARM, ALARM),
    ("- - - - X", INSUFFICIENT_DATA, "keep", ALARM, OK),
    ("X - - - -", ALARM, "keep", ALARM, OK),
]
_TABLE_2_OF_3 = [
    ("0 - X - X", ALARM, ALARM, ALARM, ALARM),
    ("0 0 X 0 X", ALARM, ALARM, ALARM, ALARM),
    ("0 - X - -", OK, OK, ALARM, OK),
    ("- - - - 0", OK, OK, ALARM, OK),
    ("- - - - X", INSUFFICIENT_DATA, "keep", ALARM, OK),
]


@pytest.mark.parametrize(
    ("m", "row"),
    [(3, row) for row in _TABLE_3_OF_3] + [(2, row) for row in _TABLE_2_OF_3],
)
def test_treat_missing_data_follows_the_user_guide_tables(m: int, row: tuple[str, ...]) -> None:
    pattern, *expected = row
    for treat, want in zip(
        ("missing", "ignore", "breaching", "notBreaching"), expected, strict=True
    ):
        rule = _rule(
            comparison="GreaterThanThreshold",
            threshold=0.5,
            evaluation_periods=3,
            datapoints_to_alarm=m,
            period=300,
            treat_missing_data=treat,
        )
        decision = assess(rule, _points(pattern), NOW)
        got = "keep" if decision is None else decision.state
        assert got == want, (pattern, treat)


def test_the_range_is_n_plus_two_periods_ending_with_the_period_in_progress() -> None:
    rule = _rule(period=10, evaluation_periods=2, statistic="Maximum")
    start = NOW - NOW % 10
    samples = [Sample.of(start + 1, 5.0), Sample.of(start - 25, 7.0), Sample.of(start - 35, 9.0)]
    points = evaluation_range(rule, samples, NOW)
    assert [p.start for p in points] == [start - 10 * k for k in range(4)]
    assert [p.value for p in points] == [5.0, None, None, 7.0]  # start - 35 is out of range
    # Before the period in progress has data, the range ends with the last complete period.
    points = evaluation_range(rule, samples[1:], NOW)
    assert [p.start for p in points] == [start - 10 * k for k in range(1, 5)]
    assert points[-1].value == 9.0
    # Samples after ``now`` and of another unit are not counted.
    later = [Sample.of(NOW + 20, 1.0), Sample.of(start + 2, 3.0, "Milliseconds")]
    rule_us = _rule(period=10, evaluation_periods=2, statistic="Maximum", unit="Microseconds")
    assert all(p.value is None for p in evaluation_range(rule_us, later, NOW))


def test_state_reasons_are_worded_as_cloudwatch() -> None:
    rule = _rule(period=60)
    start = NOW - NOW % 60
    alarm = evaluate(rule, [Sample.of(start + 1, 1.0), Sample.of(start + 2, 1.0)], NOW, OK)
    assert alarm is not None and alarm.state == ALARM
    assert alarm.reason == (
        "Threshold Crossed: 1 out of the last 1 datapoints [2.0 (12/04/26 23:40:00)] was "
        "greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM "
        "transition)."
    )
    assert alarm.reason_data == {
        "version": "1.0",
        "queryDate": "2026-04-12T23:40:15.000+0000",
        "startDate": "2026-04-12T23:40:00.000+0000",
        "statistic": "Sum",
        "period": 60,
        "recentDatapoints": [2.0],
        "threshold": 1.0,
        "evaluatedDatapoints": [
            {"timestamp": "2026-04-12T23:40:00.000+0000", "sampleCount": 2.0, "value": 2.0}
        ],
    }
    ok = evaluate(rule, [Sample.of(start + 1, 0.0)], NOW, ALARM)
    assert ok is not None and ok.reason == (
        "Threshold Crossed: 1 out of the last 1 datapoints [0.0 (12/04/26 23:40:00)] was not "
        "greater than or equal to the threshold (1.0) (minimum 1 datapoint for ALARM -> OK "
        "transition)."
    )
    assert evaluate(rule, [Sample.of(start + 1, 0.0)], NOW, OK) is None  # no change, no update
    breaching = _rule(evaluation_periods=2, treat_missing_data="breaching")
    none = evaluate(breaching, [], NOW, OK)
    assert none is not None and none.reason == (
        "Threshold Crossed: no datapoints were received for 2 periods and 2 missing "
        "datapoints were treated as [Breaching]."
    )
    unknown = assess(_rule(evaluation_periods=3), _points("- - - - X", 60), NOW)
    assert unknown is not None and unknown.reason == "Insufficient Data: 2 datapoints were unknown."


# ------------------------------------------------------------- on moto's stored datapoints
@pytest.fixture
def elsewhere() -> Iterator[CloudWatchBackend]:
    backend = cloudwatch_backends[ELSEWHERE]["us-east-1"]
    yield backend
    backend.alarms.clear()
    metric_store.prune(backend, math.inf)  # in place, and through the index


def _put_alarm(backend: CloudWatchBackend, name: str, **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "name": name,
        "namespace": NAMESPACE,
        "metric_name": "Invocation5XXErrors",
        "comparison_operator": "GreaterThanOrEqualToThreshold",
        "evaluation_periods": 1,
        "period": 60,
        "threshold": 1.0,
        "statistic": "Sum",
        "description": "",
        "dimensions": [
            {"Name": "EndpointName", "Value": "ep"},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        "alarm_actions": [],
    }
    return backend.put_metric_alarm(**{**fields, **overrides})


def _errors(backend: CloudWatchBackend, value: float, dimensions: list[dict[str, str]]) -> None:
    datum = {"MetricName": "Invocation5XXErrors", "Value": value, "Dimensions": dimensions}
    backend.put_metric_data(NAMESPACE, [{**datum, "Timestamp": utcnow()}])


def test_a_stored_alarm_changes_state_with_history_and_timestamp(
    elsewhere: CloudWatchBackend,
) -> None:
    alarm = _put_alarm(elsewhere, "errors")
    alarm.update_state("Unchecked: Initial alarm creation", "{}", INSUFFICIENT_DATA)
    before = alarm.state_updated_timestamp
    dims = [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "AllTraffic"}]
    assert not evaluate_stored_alarm(elsewhere, alarm)  # no data, "missing": still INSUFFICIENT
    # Only the exact dimension set counts: more dimensions, or fewer, are other metrics.
    _errors(elsewhere, 5.0, [*dims, {"Name": "ContainerName", "Value": "c"}])
    _errors(elsewhere, 5.0, dims[:1])
    _errors(elsewhere, 0.0, dims)
    assert evaluate_stored_alarm(elsewhere, alarm)
    assert alarm.state_value == OK
    _errors(elsewhere, 1.0, dims)
    assert evaluate_stored_alarm(elsewhere, alarm)
    assert alarm.state_value == ALARM
    assert alarm.state_reason.startswith("Threshold Crossed: 1 out of the last 1 datapoints [1.0")
    assert json.loads(alarm.state_reason_data)["recentDatapoints"] == [1.0]
    assert alarm.state_updated_timestamp > before
    assert [entry[3] for entry in alarm.history][-2:] == [INSUFFICIENT_DATA, OK]
    assert not evaluate_stored_alarm(elsewhere, alarm)  # nothing new: nothing to do


def test_set_alarm_state_holds_until_newer_data_arrives(elsewhere: CloudWatchBackend) -> None:
    alarm = _put_alarm(elsewhere, "forced")
    dims = [{"Name": d.name, "Value": d.value} for d in alarm.dimensions]
    _errors(elsewhere, 0.0, dims)  # stored before the state is forced
    elsewhere.set_alarm_state("forced", "testing", "{}", ALARM)
    assert not evaluate_stored_alarm(elsewhere, alarm)
    assert alarm.state_value == ALARM
    _errors(elsewhere, 0.0, dims)  # newer than the forced state: the data decides again
    assert evaluate_stored_alarm(elsewhere, alarm)
    assert alarm.state_value == OK
    assert alarm.state_reason.startswith("Threshold Crossed: 1 out of the last 1 datapoints [0.0")


def test_a_new_alarm_is_evaluated_on_data_stored_before_it(elsewhere: CloudWatchBackend) -> None:
    dims = [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "AllTraffic"}]
    _errors(elsewhere, 3.0, dims)
    alarm = _put_alarm(elsewhere, "late")
    assert evaluate_stored_alarm(elsewhere, alarm)
    assert alarm.state_value == ALARM


def test_metric_math_alarms_are_left_as_they_are(elsewhere: CloudWatchBackend) -> None:
    query = MetricDataQuery("e1", "errors", "60", "true", expression="m1 * 2")
    alarm = _put_alarm(elsewhere, "math", metric_name=None, metric_data_queries=[query])
    elsewhere.set_alarm_state("math", "testing", "{}", ALARM)
    assert not evaluate_stored_alarm(elsewhere, alarm)
    assert alarm.state_value == ALARM


def test_invocation_metrics_follow_the_sagemaker_guide() -> None:
    moment = utcnow()
    data = invocation_metrics(Invocation("ep", "Blue", 503, 0.25, 0.2505), moment)
    assert {d["MetricName"]: (d["Value"], d["Unit"]) for d in data} == {
        "Invocations": (1.0, "None"),
        "Invocation4XXErrors": (0.0, "None"),
        "Invocation5XXErrors": (1.0, "None"),
        "ModelLatency": (250000.0, "Microseconds"),
        "OverheadLatency": (500.0, "Microseconds"),
    }
    assert all(d["Timestamp"] is moment for d in data)
    assert all(
        d["Dimensions"]
        == [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "Blue"}]
        for d in data
    )
    client = {
        d["MetricName"]: d["Value"]
        for d in invocation_metrics(Invocation("ep", "B", 415, 0.1, 0.1), moment)
    }
    assert (client["Invocation4XXErrors"], client["Invocation5XXErrors"]) == (1.0, 0.0)
    unanswered = invocation_metrics(Invocation("ep", "B", None, None, 0.01), moment)
    assert "ModelLatency" not in {d["MetricName"] for d in unanswered}
    assert {d["MetricName"]: d["Value"] for d in unanswered}["Invocation5XXErrors"] == 1.0


def test_publishing_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def __getitem__(self, account: str) -> Any:
            raise RuntimeError("no CloudWatch today")

    monkeypatch.setattr(metric_store, "cloudwatch_backends", Broken())
    publish_invocation(ELSEWHERE, "us-east-1", Invocation("ep", "B", 200, 0.1, 0.2))


# ============================================================================ endpoints
class Endpoints(StagingDeployer):
    """Tiny models in the hub bucket, served by the staging deployer; the staging CloudWatch."""

    prefix = "tiny"

    def __init__(self, cloud: LocalCloud) -> None:
        super().__init__(cloud)
        self.cloudwatch = cloudwatch_backends[STAGING][cloud.region]

    def model(self, label: str, **behaviour: Any) -> str:
        """A model answering ``{"label": label}`` (``fail=True``: always a 500)."""
        name = f"tiny-{label}-{uuid.uuid4().hex[:8]}"
        files = {
            "model.json": json.dumps({"label": label, **behaviour}).encode(),
            "code/inference.py": INFERENCE.encode(),
        }
        key = f"models/{name}/model.tar.gz"
        self.hub_s3.put_object(Bucket=BUCKET, Key=key, Body=tarball(files))
        self.create_model(name, key)
        return name

    def config(self, *variants: tuple[str, str]) -> str:
        """An endpoint config with ``(variant name, model)`` variants of equal weight."""
        name = f"tiny-{uuid.uuid4().hex[:8]}"
        self.create_config(name, [(variant, model, 1.0) for variant, model in variants])
        return name

    def invoke(self, endpoint: str, body: str = "[[1.0]]", **extra: Any) -> tuple[str, str]:
        answer = self.runtime.invoke_endpoint(
            EndpointName=endpoint, Body=body, ContentType="application/json", **extra
        )
        label = json.loads(answer["Body"].read())["label"]
        return str(label), str(answer["InvokedProductionVariant"])

    def metric(self, endpoint: str, variant: str, name: str) -> list[MetricDatum]:
        """The datapoints of one series: exactly these two dimensions."""
        wanted = {("EndpointName", endpoint), ("VariantName", variant)}
        return [
            d
            for d in list(self.cloudwatch.metric_data)
            if isinstance(d, MetricDatum)
            and d.namespace == NAMESPACE
            and d.name == name
            and {(x.name, x.value) for x in d.dimensions} == wanted
        ]

    def latency_alarm(self, endpoint: str, threshold: float) -> str:
        """Maximum ModelLatency over 10 s greater than ``threshold`` microseconds."""
        name = f"tiny-latency-{uuid.uuid4().hex[:6]}"
        self.cloudwatch.put_metric_alarm(
            name=name,
            namespace=NAMESPACE,
            metric_name="ModelLatency",
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=1,
            period=10,
            threshold=threshold,
            statistic="Maximum",
            description="model latency of the endpoint",
            dimensions=[
                {"Name": "EndpointName", "Value": endpoint},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ],
            alarm_actions=[],
            unit="Microseconds",
        )
        return name


@pytest.fixture(scope="module")
def endpoints(localcloud: LocalCloud) -> Iterator[Endpoints]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TIME_SCALE_ENV, "0.01")
        yield Endpoints(localcloud)


@pytest.fixture(scope="module")
def blue(endpoints: Endpoints) -> str:
    return endpoints.config(("AllTraffic", endpoints.model("blue")))


def _traffic(
    endpoints: Endpoints, endpoint: str
) -> tuple[threading.Event, list[Any], threading.Thread]:
    """Invoke about every 10 ms on a thread until the event is set; collect labels or errors."""
    stop, seen = threading.Event(), []

    def loop() -> None:
        while not stop.is_set():
            try:
                seen.append(endpoints.invoke(endpoint)[0])
            except ClientError as error:
                seen.append(error.response["Error"]["Code"])
            time.sleep(0.01)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return stop, seen, thread


def _canary(wait: int, alarm: str) -> dict[str, Any]:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": wait,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
            },
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": 3600,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm}]},
    }


def _baking(described: dict[str, Any]) -> bool:
    return "Baking" in json.dumps(described.get("PendingDeploymentSummary", ""), default=str)


@pytest.mark.slow
def test_invocations_publish_sagemaker_metrics_per_variant(endpoints: Endpoints) -> None:
    config = endpoints.config(("Blue", endpoints.model("one")), ("Green", endpoints.model("two")))
    endpoint = endpoints.endpoint(config)
    started = utcnow()
    for variant, label in (("Blue", "one"), ("Green", "two"), ("Green", "two")):
        assert endpoints.invoke(endpoint, TargetVariant=variant) == (label, variant)
    for body, content_type in (("[[-1.0]]", "application/json"), ("1", "application/x-unknown")):
        with pytest.raises(ClientError) as info:
            endpoints.runtime.invoke_endpoint(
                EndpointName=endpoint, Body=body, ContentType=content_type, TargetVariant="Blue"
            )
        assert info.value.response["Error"]["Code"] == "ModelError"
    with pytest.raises(ClientError):  # refused before a variant serves it: no metrics
        endpoints.invoke(endpoint, TargetVariant="Purple")

    def values(variant: str, name: str) -> list[float]:
        return [d.value for d in endpoints.metric(endpoint, variant, name)]

    assert values("Blue", "Invocations") == [1.0, 1.0, 1.0]  # one good, one 5XX, one 4XX
    assert values("Green", "Invocations") == [1.0, 1.0]
    assert values("Blue", "Invocation5XXErrors") == [0.0, 1.0, 0.0]
    assert values("Blue", "Invocation4XXErrors") == [0.0, 0.0, 1.0]
    assert sum(values("Green", "Invocation4XXErrors") + values("Green", "Invocation5XXErrors")) == 0
    for variant, count in (("Blue", 3), ("Green", 2)):
        for name in ("ModelLatency", "OverheadLatency"):
            data = endpoints.metric(endpoint, variant, name)
            assert len(data) == count and all(d.unit == "Microseconds" for d in data)
            assert all(d.value >= 0 for d in data)
            assert all(started <= d.timestamp <= utcnow() for d in data)
    assert all(v > 0 for v in values("Blue", "ModelLatency"))
    # What GetMetricStatistics answers from the same store.
    [stats] = endpoints.cloudwatch.get_metric_statistics(
        NAMESPACE,
        "Invocations",
        started.replace(microsecond=0) - MINUTE,
        utcnow() + MINUTE,
        3600,
        ["Sum", "SampleCount"],
        [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "Green"}],
    )
    assert (stats.sum, stats.sample_count) == (2.0, 2.0)
    endpoints.delete(endpoint)


@pytest.mark.slow
def test_a_metrics_failure_does_not_fail_the_invocation(
    endpoints: Endpoints, blue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = endpoints.endpoint(blue)

    def broken(namespace: str, metric_data: list[dict[str, Any]]) -> None:
        raise RuntimeError("CloudWatch is down")

    monkeypatch.setattr(endpoints.cloudwatch, "put_metric_data", broken)
    assert endpoints.invoke(endpoint) == ("blue", "AllTraffic")
    monkeypatch.undo()
    assert endpoints.metric(endpoint, "AllTraffic", "Invocations") == []
    endpoints.delete(endpoint)


@pytest.mark.slow
def test_canary_traffic_that_breaches_a_latency_alarm_rolls_back(
    endpoints: Endpoints, blue: str
) -> None:
    green = endpoints.config(("AllTraffic", endpoints.model("green")))
    name = f"tiny-{uuid.uuid4().hex[:8]}"
    alarm = endpoints.latency_alarm(name, threshold=1.0)  # every real request breaches it
    endpoint = endpoints.endpoint(blue, name)
    deployment = _canary(3000, alarm)  # a 30 s bake: the alarm cuts it short
    endpoints.sagemaker.update_endpoint(
        EndpointName=endpoint, EndpointConfigName=green, DeploymentConfig=deployment
    )
    assert _baking(endpoints.wait(endpoint, _baking))
    assert endpoints.cloudwatch.alarms[alarm].state_value == INSUFFICIENT_DATA  # no traffic yet
    started = time.monotonic()
    stop, seen, thread = _traffic(endpoints, endpoint)
    described = endpoints.wait(endpoint, lambda d: d["EndpointStatus"] != "Updating", timeout=20)
    stop.set()
    thread.join()
    assert time.monotonic() - started < 10
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == blue
    assert alarm in described["FailureReason"]
    assert described["FailureReason"] == (
        f"Update to endpoint config {green} was rolled back: CloudWatch alarm {alarm} went into "
        "ALARM during the deployment."
    )
    state = endpoints.cloudwatch.alarms[alarm]
    assert state.state_value == ALARM
    assert state.state_reason.startswith("Threshold Crossed: 1 out of the last 1 datapoints [")
    assert "was greater than the threshold (1.0) (minimum 1 datapoint for OK -> ALARM" in (
        state.state_reason
    )
    assert json.loads(state.state_reason_data)["recentDatapoints"][0] > 1.0
    assert seen and set(seen) <= {"blue", "green"}
    assert [endpoints.invoke(endpoint)[0] for _ in range(5)] == ["blue"] * 5
    endpoints.delete(endpoint)


@pytest.mark.slow
def test_a_new_model_failing_its_canary_traffic_is_rolled_back_by_an_error_alarm(
    endpoints: Endpoints, blue: str
) -> None:
    failing = endpoints.config(("AllTraffic", endpoints.model("failing", fail=True)))
    name = f"tiny-{uuid.uuid4().hex[:8]}"
    alarm = f"tiny-errors-{uuid.uuid4().hex[:6]}"
    endpoints.cloudwatch.put_metric_alarm(
        name=alarm,
        namespace=NAMESPACE,
        metric_name="Invocation5XXErrors",
        comparison_operator="GreaterThanOrEqualToThreshold",
        evaluation_periods=1,
        period=60,
        threshold=1.0,
        statistic="Sum",
        description="5XX errors of the endpoint",
        dimensions=[
            {"Name": "EndpointName", "Value": name},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        alarm_actions=[],
        treat_missing_data="notBreaching",
    )
    endpoint = endpoints.endpoint(blue, name)
    stop, seen, thread = _traffic(endpoints, endpoint)  # traffic before, during and after
    endpoints.sagemaker.update_endpoint(
        EndpointName=endpoint, EndpointConfigName=failing, DeploymentConfig=_canary(3000, alarm)
    )
    described = endpoints.wait(endpoint, lambda d: d["EndpointStatus"] != "Updating", timeout=30)
    time.sleep(0.5)
    stop.set()
    thread.join()
    assert described["EndpointConfigName"] == blue
    assert alarm in described["FailureReason"]
    assert "ModelError" in seen  # the canary's failures reached clients ...
    assert seen[-5:] == ["blue"] * 5  # ... until the rollback: the old model serves
    errors = endpoints.metric(endpoint, "AllTraffic", "Invocation5XXErrors")
    assert sum(d.value for d in errors) == seen.count("ModelError")
    endpoints.delete(endpoint)


@pytest.mark.slow
def test_a_canary_whose_traffic_stays_within_the_alarm_completes(
    endpoints: Endpoints, blue: str
) -> None:
    green = endpoints.config(("AllTraffic", endpoints.model("green")))
    name = f"tiny-{uuid.uuid4().hex[:8]}"
    alarm = endpoints.latency_alarm(name, threshold=60_000_000.0)  # a minute: never reached
    endpoint = endpoints.endpoint(blue, name)
    stop, seen, thread = _traffic(endpoints, endpoint)
    deployment = _canary(300, alarm)  # a 3 s bake under traffic
    endpoints.sagemaker.update_endpoint(
        EndpointName=endpoint, EndpointConfigName=green, DeploymentConfig=deployment
    )
    described = endpoints.wait(endpoint, lambda d: d["EndpointStatus"] != "Updating", timeout=30)
    stop.set()
    thread.join()
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == green
    assert "FailureReason" not in described
    state = endpoints.cloudwatch.alarms[alarm]
    assert state.state_value == OK  # evaluated with data during the bake
    assert "was not greater than the threshold (60000000.0)" in state.state_reason
    assert "blue" in seen and "green" in seen  # both fleets served during the canary
    assert set(seen) <= {"blue", "green"}
    invocations = endpoints.metric(endpoint, "AllTraffic", "Invocations")
    assert len(invocations) == len(seen)  # every request, from either fleet, was counted
    assert endpoints.invoke(endpoint)[0] == "green"
    endpoints.delete(endpoint)


# ============================================================================ retention
def test_old_datapoints_are_pruned_and_evaluation_carries_on(
    elsewhere: CloudWatchBackend,
) -> None:
    dims = [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "AllTraffic"}]
    hours_ago = utcnow() - timedelta(hours=5)
    old = {"MetricName": "Invocation5XXErrors", "Value": 9.0, "Dimensions": dims}
    elsewhere.put_metric_data(NAMESPACE, [{**old, "Timestamp": hours_ago}] * 3)
    alarm = _put_alarm(elsewhere, "after-prune")
    evaluate_stored_alarm(elsewhere, alarm)  # indexes the old points too
    _errors(elsewhere, 0.0, dims)

    assert metric_store.prune(elsewhere, time.time() - 3600) == 3
    assert [getattr(d, "value", None) for d in elsewhere.metric_data] == [0.0]
    assert metric_store.prune(elsewhere, time.time() - 3600) == 0
    _errors(elsewhere, 2.0, dims)  # after the prune: the rebuilt index must see it
    assert evaluate_stored_alarm(elsewhere, alarm)
    assert alarm.state_value == ALARM
    assert json.loads(alarm.state_reason_data)["recentDatapoints"] == [2.0]


def test_publishing_prunes_every_so_often(
    elsewhere: CloudWatchBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metric_store, "PRUNE_EVERY", 4)
    monkeypatch.setattr(metric_store, "RETENTION_SECONDS", 3600.0)
    dims = [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "B"}]
    stale = {"MetricName": "Invocations", "Value": 1.0, "Dimensions": dims}
    elsewhere.put_metric_data(NAMESPACE, [{**stale, "Timestamp": utcnow() - timedelta(hours=2)}])
    for _ in range(8):
        publish_invocation(ELSEWHERE, "us-east-1", Invocation("ep", "B", 200, 0.001, 0.002))
    stamps = [d.timestamp for d in elsewhere.metric_data]
    assert len(stamps) == 8 * 5  # the stale datapoint went at a prune, none of the new ones
    assert min(stamps) > utcnow() - timedelta(minutes=5)


def test_datapoints_are_not_kept_alive_by_moto(localcloud: LocalCloud) -> None:
    """moto tracks every model instance for its dashboard; datapoints are exempt, so what
    the retention drops is freed."""
    tracked = len(MetricDatum.instances_tracked)  # type: ignore[attr-defined]
    for _ in range(10):
        publish_invocation(ELSEWHERE, "us-east-1", Invocation("ep", "B", 200, 0.001, 0.002))
    assert len(MetricDatum.instances_tracked) == tracked == 0  # type: ignore[attr-defined]
    metric_store.prune(cloudwatch_backends[ELSEWHERE]["us-east-1"], math.inf)
