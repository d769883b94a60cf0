"""What endpoint metrics and alarm evaluation cost localcloud, in process (no HTTP).

- ``publish``: :func:`localcloud.runtime.metric_store.publish_invocation`, what every
  InvokeEndpoint does after answering (five datapoints into moto's CloudWatch backend);
  median per call over rounds of 1,000.
- ``evaluate``: one evaluation of a p95 ModelLatency alarm (period 60 s, 3 of 3) whose window
  holds ``--points`` datapoints (about a thousand invocations), as the bake of a blue/green
  update does on every check; the series index is built first, so this is the steady cost.

A private account ID is used so nothing else shares the backend. Prints every round and the
medians.

    uv run python benchmarks/endpoint_metrics.py [--rounds 5] [--points 5000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from moto.cloudwatch.models import Alarm, cloudwatch_backends

from localcloud.runtime.metric_store import Invocation, evaluate_stored_alarm, publish_invocation

ACCOUNT, REGION = "999999999999", "us-east-1"


def _publish(calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        publish_invocation(ACCOUNT, REGION, Invocation("bench", "AllTraffic", 200, 0.004, 0.005))
    return (time.perf_counter() - started) / calls


def _alarm() -> Alarm:
    backend = cloudwatch_backends[ACCOUNT][REGION]
    backend.put_metric_alarm(
        name="bench-latency",
        namespace="AWS/SageMaker",
        metric_name="ModelLatency",
        comparison_operator="GreaterThanThreshold",
        evaluation_periods=3,
        period=60,
        threshold=500000.0,
        statistic=None,  # type: ignore[arg-type]  # moto's hint; AWS takes one of the two
        extended_statistic="p95",
        description="bench",
        dimensions=[
            {"Name": "EndpointName", "Value": "bench"},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        alarm_actions=[],
    )
    return backend.alarms["bench-latency"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--points", type=int, default=5000)
    args = parser.parse_args()
    backend = cloudwatch_backends[ACCOUNT][REGION]
    publish = []
    for round_ in range(args.rounds):
        publish.append(_publish(1000))
        print(f"round {round_ + 1}  publish   {publish[-1] * 1e6:8.1f} µs per invocation")
    alarm = _alarm()
    # One ModelLatency datapoint per invocation; the rounds above published some already.
    missing = args.points - 1000 * args.rounds
    if missing > 0:
        _publish(missing)
    latency = sum(1 for d in backend.metric_data if d.name == "ModelLatency")
    evaluate_stored_alarm(backend, alarm)  # builds the index
    evaluate = []
    for round_ in range(args.rounds):
        now = time.time() + round_ * 60  # a new period each round: nothing cached
        started = time.perf_counter()
        evaluate_stored_alarm(backend, alarm, now=now)
        evaluate.append(time.perf_counter() - started)
        print(f"round {round_ + 1}  evaluate  {evaluate[-1] * 1e3:8.2f} ms")
    print(f"\nmedian publish per invocation: {statistics.median(publish) * 1e6:.1f} µs")
    print(
        f"median evaluation of a p95 alarm over {latency} ModelLatency points: "
        f"{statistics.median(evaluate) * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main()
