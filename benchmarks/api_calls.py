"""AWS API calls made by one retrain and one promotion, per service and operation.

Runs, in this process and as ``hubspoke.demo.run_demo`` does, a localcloud (bootstrapped from
infra/ + config/, enforcement on), then ``dag.test()`` of ``retrain_<model>``, the approval in
the hub registry, and ``dag.test()`` of ``promote_<model>`` with its production gate answered
in code (``hubspoke.hitl.answer_when_asked``), for the first model of config/models.yaml.

Counting: before anything creates a client, ``botocore.client.BaseClient._make_api_call`` is
wrapped at class level, so every synchronous client in the process is seen, whoever made its
session: the Amazon provider's hooks, the SageMaker SDK, boto3 in task code, waiters and
paginators (one count per page). Deferrable waits run their triggers inline in ``dag.test()``
with aiobotocore clients, whose ``AioBaseClient._make_api_call`` is its own coroutine (it does
not call botocore's), so it is wrapped as well and its calls are shown apart. A count is one
logical API call: botocore's automatic retries of the same call are not counted again.

Each call is attributed to the phase running at the time (retrain DAG, approval, promote
DAG) and, from the call stack, to its caller: calls made from inside localcloud (its job
runner staging S3 data and writing logs as the execution role, the endpoint fleet fetching
model artifacts, alarm checks) stand for work the AWS service does itself and are listed
separately, not in the DAG totals. Setup calls (bootstrap, data upload) are not counted.

    uv run python benchmarks/api_calls.py

One run (the counts are deterministic up to polling: trigger and waiter poll counts depend
on timing, so describe-style calls vary a little between runs).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SYNC = "botocore"
ASYNC = "aiobotocore"
CALLER_LOCALCLOUD = "localcloud (service side)"
CALLER_PROJECT = "project (hooks, SDK, tasks, triggers)"

# (phase, caller, client kind, service, operation) → calls
Key = tuple[str, str, str, str, str]


class CallCounter:
    """Counts API calls of every botocore and aiobotocore client of the process."""

    def __init__(self) -> None:
        self.counts: Counter[Key] = Counter()
        self.phase: str | None = None
        self._lock = threading.Lock()

    def record(self, kind: str, client: Any, operation: str) -> None:
        phase = self.phase
        if phase is None:
            return
        caller = CALLER_LOCALCLOUD if _called_from_localcloud() else CALLER_PROJECT
        service = client.meta.service_model.service_name
        with self._lock:
            self.counts[(phase, caller, kind, service, operation)] += 1

    @contextmanager
    def counting(self, phase: str) -> Iterator[None]:
        self.phase = phase
        try:
            yield
        finally:
            self.phase = None

    def install(self) -> bool:
        """Wrap both clients' ``_make_api_call``; returns whether aiobotocore was found."""
        from botocore.client import BaseClient

        sync_call = BaseClient._make_api_call
        counter = self

        def counted_sync(client: Any, operation_name: str, api_params: Any) -> Any:
            counter.record(SYNC, client, operation_name)
            return sync_call(client, operation_name, api_params)

        BaseClient._make_api_call = counted_sync  # type: ignore[method-assign]
        try:
            from aiobotocore.client import AioBaseClient
        except ImportError:
            return False
        async_call = AioBaseClient._make_api_call

        async def counted_async(client: Any, operation_name: str, api_params: Any) -> Any:
            counter.record(ASYNC, client, operation_name)
            return await async_call(client, operation_name, api_params)

        AioBaseClient._make_api_call = counted_async  # type: ignore[method-assign]
        return True


def _called_from_localcloud() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith("localcloud."):
            return True
        frame = frame.f_back
    return False


def run(counter: CallCounter) -> dict[str, float]:
    """Retrain, approve and promote once, counting each phase; returns each phase's seconds."""
    from hubspoke import demo
    from hubspoke.config import load_config

    demo._quiet_libraries()
    config = load_config()
    accounts, model = config.accounts, config.models.models[0]
    os.environ.setdefault("LOCALCLOUD_TIME_SCALE", "0.01")
    workdir = Path(tempfile.mkdtemp(prefix="bench-api-calls-"))
    demo.prepare_airflow_environment(workdir / "airflow")

    from localcloud.bootstrap import bootstrap
    from localcloud.server import LocalCloud
    from pipelines.breast_cancer.dataset import export_dataset

    seconds: dict[str, float] = {}

    def timed(phase: str, work: Callable[[], Any]) -> Any:
        started = time.monotonic()
        with counter.counting(phase):
            result = work()
        seconds[phase] = time.monotonic() - started
        return result

    cloud = LocalCloud(port=0)
    cloud.start()
    try:
        bootstrap(cloud)
        demo._as_airflow(cloud, accounts)  # the orchestrator's credentials + connections
        dags = demo._dags()
        path = export_dataset(workdir / "data.csv")
        key = f"data/{model.name}/data.csv"
        dev_root = cloud.client("s3", cloud.root_session(accounts.account_id("dev")))
        dev_root.upload_file(str(path), accounts.dev_bucket, key)

        retrain = f"retrain_{model.dag_suffix}"
        conf = {"data_uri": f"s3://{accounts.dev_bucket}/{key}", "reason": "benchmark"}
        dag_run = timed(retrain, lambda: dags[retrain].test(run_conf=conf))
        demo._check(dag_run, "retraining")
        arn = dag_run.get_task_instance("register").xcom_pull(task_ids="register")["package_arn"]

        approver = cloud.credentials.issue_role_session(accounts.approver_arn, "benchmark")
        timed(
            "approval (a person, role hubspoke-approver)",
            lambda: cloud.client("sagemaker", approver).update_model_package(
                ModelPackageArn=arn,
                ModelApprovalStatus="Approved",
                ApprovalDescription="benchmark",
            ),
        )

        from hubspoke.hitl import answer_when_asked

        promote = f"promote_{model.dag_suffix}"
        threading.Thread(
            target=answer_when_asked,
            args=(promote, "production_gate", "Approve", "benchmark-release-manager"),
            daemon=True,
        ).start()
        dag_run = timed(promote, lambda: dags[promote].test(run_conf={"package_arn": arn}))
        demo._check(dag_run, "promotion")
    finally:
        cloud.stop()
    return seconds


def report(counter: CallCounter, seconds: dict[str, float], async_counted: bool) -> None:
    for phase, took in seconds.items():
        rows = {k: n for k, n in counter.counts.items() if k[0] == phase}
        print(f"\n== {phase} ({took:.1f} s)")
        for caller in (CALLER_PROJECT, CALLER_LOCALCLOUD):
            mine = {k: n for k, n in rows.items() if k[1] == caller}
            if not mine:
                continue
            print(f"   {caller}:")
            by_service: Counter[str] = Counter()
            for (_, _, kind, service, operation), n in sorted(mine.items(), key=lambda i: i[0]):
                by_service[service] += n
                label = f"{service}.{operation}" + (" [async]" if kind == ASYNC else "")
                print(f"      {label:<58} {n:5d}")
            services = ", ".join(f"{s} {n}" for s, n in sorted(by_service.items()))
            total = sum(mine.values())
            aio = sum(n for k, n in mine.items() if k[2] == ASYNC)
            print(f"      {'total':<58} {total:5d}  ({aio} async; by service: {services})")
    print("\n== totals per DAG (project calls; localcloud's own in brackets)")
    for phase in seconds:
        project = sum(n for k, n in counter.counts.items() if k[:2] == (phase, CALLER_PROJECT))
        service = sum(n for k, n in counter.counts.items() if k[:2] == (phase, CALLER_LOCALCLOUD))
        aio = sum(
            n
            for k, n in counter.counts.items()
            if k[0] == phase and k[1] == CALLER_PROJECT and k[2] == ASYNC
        )
        print(f"   {phase:<45} {project:5d} ({aio} of them async)  [{service}]")
    if not async_counted:
        print("   aiobotocore is not installed: trigger calls could not be counted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    counter = CallCounter()
    async_counted = counter.install()
    seconds = run(counter)
    report(counter, seconds, async_counted)


if __name__ == "__main__":
    main()
