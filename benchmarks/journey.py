"""The whole journey (``hubspoke.demo.run_demo``) timed per stage, and where its time goes.

Each round runs ``run_demo`` in a fresh Python process (localcloud's moto state and Airflow's
settings are process-global), as ``hubspoke demo`` does: Airflow metadata DB, localcloud
bootstrap, data upload, ``dag.test()`` of ``retrain_breast_cancer``, the approval, the
``promote_breast_cancer`` run with its production gate answered in code, and predictions from
the prod endpoint. The per-stage seconds are parsed from the demo's own ``== timings`` table.

To split the time, the child process wraps three localcloud functions before the demo starts
(timing only; behaviour is unchanged) and records each call as a monotonic-clock interval:

- step scripts: ``localcloud.runtime.contract._execute``, i.e. the lifetime of the process of
  every processing and training job's script (interpreter start, imports, the work); staging
  inputs from S3 and uploading outputs, which a real SageMaker job also does around the
  script, are NOT counted here;
- model-server startup: ``localcloud.runtime.deployments._start_server``, i.e. fetching and
  unpacking the model artifact as the execution role, starting the server and waiting until
  ``/ping`` answers (SageMaker's Creating → InService of a variant), for endpoint creates and
  for blue/green fleets;
- deployment bake waits: ``Endpoint._bake``, the canary's ``WaitIntervalInSeconds`` scaled by
  ``LOCALCLOUD_TIME_SCALE`` (0.01 in the demo) while alarms and health are watched.

These intervals are merged (their union, so steps that run at the same time are counted once)
and clipped to the two DAG-run stages. Orchestration overhead is what is left of those stages:
Airflow scheduling and task start in ``dag.test()``, AWS API calls and their authorization,
trigger polling intervals (deferrable waits), S3 staging around jobs, the endpoint validation
requests and the wait for the production gate's answer (answered by code as soon as it is
asked). The same split is shown for the whole journey, whose remainder also holds the
metadata-DB migration, the localcloud bootstrap and the rest of the demo.

The overhead is split once more with a fourth wrapper, around Airflow's
``airflow.sdk.definitions.dag._run_inline_trigger`` (how ``dag.test()`` runs a deferred task's
trigger, installed right after the demo has set up Airflow's environment): time inside a
deferred wait while no script, model server or bake is running is mostly polling latency
(the trigger's poll interval, the pipeline's step hand-offs, the production gate's wait);
the rest of the overhead is outside deferred waits (task start, operator and SDK work, API
calls).

Prints each round, then the median of every figure over the rounds.

    uv run python benchmarks/journey.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DAG_STAGE_PREFIXES = ("retrain_", "promote_")
TIMING_LINE = re.compile(r"^\s+(?P<name>.+?)\s+(?P<seconds>\d+(?:\.\d+)?) s$")

TRIGGERS = "deferred waits (triggers)"
WORK = ("step scripts", "model-server startup", "deployment bake waits")

Interval = tuple[float, float]


# --------------------------------------------------------------------------- child process


class Recorder:
    """Intervals of calls to wrapped functions, by category; thread-safe."""

    def __init__(self) -> None:
        self.intervals: dict[str, list[Interval]] = {}
        self.durations: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def add(self, category: str, start: float, end: float) -> None:
        with self._lock:
            self.intervals.setdefault(category, []).append((start, end))

    def add_duration(self, category: str, seconds: float) -> None:
        with self._lock:
            self.durations.setdefault(category, []).append(seconds)

    def wrap(self, category: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.monotonic()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(category, start, time.monotonic())

        return timed


def instrument(recorder: Recorder) -> None:
    """Wrap the step-script, model-server and bake functions of localcloud (timing only)."""
    from localcloud.runtime import contract, deployments

    execute = contract._execute

    def timed_execute(*args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        result = execute(*args, **kwargs)
        recorder.add("step scripts", start, time.monotonic())
        recorder.add_duration("step scripts", result.duration_seconds)
        return result

    contract._execute = timed_execute
    deployments._start_server = recorder.wrap("model-server startup", deployments._start_server)
    deployments.Endpoint._bake = recorder.wrap("deployment bake waits", deployments.Endpoint._bake)

    # Airflow may only be imported once the demo has pointed it at its home: wrap dag.test()'s
    # inline trigger runner right after that.
    from hubspoke import demo

    prepare = demo.prepare_airflow_environment

    def prepare_then_wrap_triggers(home: Path) -> None:
        prepare(home)
        from airflow.sdk.definitions import dag

        dag._run_inline_trigger = recorder.wrap(TRIGGERS, dag._run_inline_trigger)

    demo.prepare_airflow_environment = prepare_then_wrap_triggers


def run_child(out: Path) -> None:
    """Run the demo once in this process and write its figures to ``out`` (JSON)."""
    recorder = Recorder()
    instrument(recorder)
    from hubspoke.demo import run_demo

    lines: list[tuple[float, str]] = []

    def echo(text: str) -> None:
        now = time.monotonic()
        for line in str(text).splitlines() or [""]:
            lines.append((now, line))
        print(text, flush=True)

    started = time.monotonic()
    run_demo(echo)
    ended = time.monotonic()

    # Stage windows: the "== <stage>" line is echoed right before its clock starts and the
    # "done in" line right after it stops.
    windows: list[tuple[str, float, float]] = []
    current: tuple[str, float] | None = None
    for at, line in lines:
        if line.startswith("== "):
            current = (line[3:], at)
        elif line.strip().startswith("done in") and current is not None:
            windows.append((current[0], current[1], at))
            current = None
    # Stage seconds as the demo reports them, from its "== timings" table.
    stages: list[tuple[str, float]] = []
    in_table = False
    for _, line in lines:
        if line == "== timings":
            in_table = True
            continue
        match = TIMING_LINE.match(line) if in_table else None
        if match and match["name"] != "total":
            stages.append((match["name"], float(match["seconds"])))
    out.write_text(
        json.dumps(
            {
                "wall": ended - started,
                "stages": stages,
                "windows": windows,
                "intervals": recorder.intervals,
                "script_durations": recorder.durations.get("step scripts", []),
            }
        )
    )


# --------------------------------------------------------------------------- analysis


def union(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def covered(intervals: list[Interval], windows: list[Interval]) -> float:
    """Seconds of ``windows`` covered by ``intervals``."""
    total = 0.0
    for start, end in union(intervals):
        for w_start, w_end in windows:
            total += max(0.0, min(end, w_end) - max(start, w_start))
    return total


def breakdown(result: dict[str, Any]) -> dict[str, float]:
    """Seconds per category inside the DAG-run stages and the whole journey."""
    everything = [(s, e) for _, s, e in result["windows"]]
    windows = [(s, e) for name, s, e in result["windows"] if name.startswith(DAG_STAGE_PREFIXES)]
    walls = {
        "DAG runs": sum(e - s for s, e in windows),
        "journey": sum(e - s for s, e in everything),
    }
    figures: dict[str, float] = {
        "journey wall (sum of stages)": walls["journey"],
        "DAG runs wall (retrain + promote)": walls["DAG runs"],
    }
    intervals: dict[str, list[Interval]] = {
        k: [tuple(i) for i in v]  # type: ignore[misc]
        for k, v in result["intervals"].items()
    }
    triggers = intervals.get(TRIGGERS, [])
    for scope, scope_windows in (("DAG runs", windows), ("journey", everything)):
        busy: list[Interval] = []
        for category in WORK:
            figures[f"{scope}: {category}"] = covered(intervals.get(category, []), scope_windows)
            busy += intervals.get(category, [])
        work = covered(busy, scope_windows)
        figures[f"{scope}: all three (union)"] = work
        overhead = walls[scope] - work
        figures[f"{scope}: orchestration overhead (the rest)"] = overhead
        figures[f"{scope}: orchestration overhead share %"] = 100 * overhead / walls[scope]
        idle = covered(busy + triggers, scope_windows) - work
        figures[f"{scope}:   of it, deferred with no work running"] = idle
        figures[f"{scope}:   of it, outside deferred waits"] = overhead - idle
    figures["deferred waits: number"] = len(triggers)
    figures["deferred waits: sum of their durations"] = sum(e - s for s, e in triggers)
    figures["step scripts: number of runs"] = len(intervals.get("step scripts", []))
    figures["step scripts: sum of own durations"] = sum(result["script_durations"])
    figures["model servers: number started"] = len(intervals.get("model-server startup", []))
    figures["model servers: sum of startup times"] = sum(
        e - s for s, e in intervals.get("model-server startup", [])
    )
    return figures


def run_round(index: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-journey-") as tmp:
        out = Path(tmp) / "result.json"
        env = dict(os.environ)
        env.setdefault("LOCALCLOUD_TIME_SCALE", "0.01")
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child-out", str(out)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if done.returncode != 0 or not out.is_file():
            tail = (done.stdout[-2000:] + "\n" + done.stderr[-3000:]).strip()
            raise SystemExit(f"round {index}: the demo failed ({done.returncode}):\n{tail}")
        return json.loads(out.read_text())


def show(title: str, figures: dict[str, float]) -> None:
    print(title)
    for name, value in figures.items():
        if name.endswith(("number of runs", "number started", ": number")):
            print(f"   {name:<58} {value:7.0f}")
        elif name.endswith(" %"):
            print(f"   {name.removesuffix(' %'):<58} {value:7.1f} %")
        else:
            print(f"   {name:<58} {value:7.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes, one demo each")
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_out is not None:
        run_child(args.child_out)
        return

    stage_names: list[str] = []
    per_stage: dict[str, list[float]] = {}
    per_figure: dict[str, list[float]] = {}
    for index in range(1, args.rounds + 1):
        result = run_round(index)
        print(f"round {index}:")
        for name, seconds in result["stages"]:
            if name not in per_stage:
                stage_names.append(name)
            per_stage.setdefault(name, []).append(seconds)
            print(f"   {name:<58} {seconds:7.2f} s")
        figures = breakdown(result)
        show(f" round {index} split:", figures)
        sys.stdout.flush()
        for name, value in figures.items():
            per_figure.setdefault(name, []).append(value)

    print(f"\nmedians of {args.rounds} round(s), each in a fresh process:")
    for name in stage_names:
        print(f"   {name:<58} {statistics.median(per_stage[name]):7.2f} s")
    medians = {name: statistics.median(values) for name, values in per_figure.items()}
    show(" split (each figure's median over the rounds):", medians)


if __name__ == "__main__":
    main()
