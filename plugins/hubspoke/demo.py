"""The main job on the embedded default: localcloud, retrain, approve, promote, serve.

Runs everything in this process: localcloud (bootstrapped from infra/ + config/, enforcement
on), Airflow's ``dag.test()`` for the real DAGs of dags/, the approver's decision, the answer
at the production gate, and real predictions from the prod endpoint.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubspoke.config import load_config, project_root

Echo = Callable[[str], None]


class DemoFailed(RuntimeError):
    """A stage failed; the message names it and what to look at."""


@dataclass
class Timings:
    stages: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str, echo: Echo) -> Iterator[None]:
        echo(f"\n== {name}")
        started = time.monotonic()
        yield
        seconds = time.monotonic() - started
        self.stages.append((name, seconds))
        echo(f"   done in {seconds:.1f} s")


def prepare_airflow_environment(home: Path) -> None:
    """Point Airflow at a private home and the project's DAGs (before airflow is imported)."""
    if "airflow" in sys.modules:
        raise RuntimeError("airflow was imported before the demo set up its environment")
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(project_root() / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        }
    )
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True, timeout=600)


# How often the waits poll when everything runs on this machine (on AWS: 30 s for an
# approval, 60 s for a pipeline execution).
LOCAL_POLL_SECONDS = {"HUBSPOKE_APPROVAL_POLL_SECONDS": "2", "HUBSPOKE_PIPELINE_POLL_SECONDS": "2"}


def local_polling() -> None:
    """Quick polling against localcloud, unless the environment already says otherwise."""
    for name, value in LOCAL_POLL_SECONDS.items():
        os.environ.setdefault(name, value)


def _quiet_libraries() -> None:
    """Keep the demo's output to its own progress lines: library chatter goes to the logs."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    for name in ("sagemaker", "botocore", "airflow", "py.warnings"):
        logging.getLogger(name).setLevel(logging.ERROR)


def run_demo(echo: Echo, port: int = 0) -> None:
    _quiet_libraries()
    config = load_config()
    accounts = config.accounts
    model = config.models.models[0]
    timings = Timings()
    os.environ.setdefault("LOCALCLOUD_TIME_SCALE", "0.01")
    local_polling()
    workdir = Path(tempfile.mkdtemp(prefix="hubspoke-demo-"))
    with timings.stage("Airflow metadata database", echo):
        prepare_airflow_environment(workdir / "airflow")
        echo(f"   AIRFLOW_HOME={workdir / 'airflow'} (SQLite)")

    from localcloud.bootstrap import bootstrap
    from localcloud.server import LocalCloud

    cloud = LocalCloud(port=port)
    cloud.start()
    try:
        with timings.stage("localcloud: five accounts, governance enforced", echo):
            report = bootstrap(cloud)
            echo(f"   {cloud.url}: organization + infra/ stacks, {len(report.changes)} resources")
            _as_airflow(cloud, accounts)
        _journey(cloud, config, model, echo, timings)
    finally:
        cloud.stop()
    echo("\n== timings")
    for name, seconds in timings.stages:
        echo(f"   {name:<58} {seconds:6.1f} s")
    echo(f"   {'total':<58} {sum(s for _, s in timings.stages):6.1f} s")


def _as_airflow(cloud: Any, accounts: Any) -> None:
    os.environ.pop("AWS_ENDPOINT_URL", None)  # the connections carry the endpoint
    os.environ.update(cloud.airflow_env(accounts))


def _dags() -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(project_root() / "dags"))
    if bag.import_errors:
        raise DemoFailed(f"dags/ has import errors: {bag.import_errors}")
    return dict(bag.dags)


def _check(run: Any, what: str) -> None:
    if str(run.state) != "success":
        failed = [ti.task_id for ti in run.get_task_instances() if str(ti.state) == "failed"]
        raise DemoFailed(f"{what} ended {run.state}; failed tasks: {', '.join(failed) or '?'}")


def _journey(cloud: Any, config: Any, model: Any, echo: Echo, timings: Timings) -> None:
    from pipelines.breast_cancer.dataset import export_dataset

    accounts = config.accounts
    dags = _dags()
    with timings.stage("data set into the dev bucket", echo):
        path = export_dataset(Path(tempfile.mkdtemp()) / "data.csv")
        data_uri = f"s3://{accounts.dev_bucket}/data/{model.name}/data.csv"
        dev_root = cloud.client("s3", cloud.root_session(accounts.account_id("dev")))
        dev_root.upload_file(str(path), accounts.dev_bucket, f"data/{model.name}/data.csv")
        echo(f"   {data_uri}")
    with timings.stage(f"retrain_{model.dag_suffix}: train in dev, register in hub", echo):
        run = dags[f"retrain_{model.dag_suffix}"].test(
            run_conf={"data_uri": data_uri, "reason": "demo"}
        )
        _check(run, "retraining")
        registered = run.get_task_instance("register").xcom_pull(task_ids="register")
        arn = registered["package_arn"]
        metrics = ", ".join(f"{k}={v:.4f}" for k, v in registered["metrics"].items())
        echo(f"   registered {arn} (PendingManualApproval)\n   {metrics}")
    with timings.stage("approval in the hub registry (role hubspoke-approver)", echo):
        echo(f"   a person runs: hubspoke approve {arn} --reason 'reviewed' --endpoint {cloud.url}")
        approver = cloud.credentials.issue_role_session(accounts.approver_arn, "demo-reviewer")
        cloud.client("sagemaker", approver).update_model_package(
            ModelPackageArn=arn,
            ModelApprovalStatus="Approved",
            ApprovalDescription="reviewed in the demo",
        )
    with timings.stage(f"promote_{model.dag_suffix}: staging, production gate, prod canary", echo):
        from hubspoke.hitl import answer_when_asked

        gate = threading.Thread(
            target=answer_when_asked,
            args=(
                f"promote_{model.dag_suffix}",
                "production_gate",
                "Approve",
                "demo-release-manager",
            ),
            daemon=True,
        )
        gate.start()
        echo(
            "   the production gate will be answered 'Approve' as Airflow user demo-release-manager"
        )
        run = dags[f"promote_{model.dag_suffix}"].test(run_conf={"package_arn": arn})
        _check(run, "promotion")
    with timings.stage("real predictions from the prod endpoint", echo):
        _predict(cloud, accounts, model, arn, echo)
    _print_ledger(cloud, accounts, model, int(arn.rsplit("/", 1)[-1]), echo)


def _predict(cloud: Any, accounts: Any, model: Any, arn: str, echo: Echo) -> None:
    import csv
    import io

    hub = cloud.root_session(accounts.account_id("hub"))
    described = cloud.client("sagemaker", hub).describe_model_package(ModelPackageName=arn)
    stats = described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    bucket, _, key = stats.removeprefix("s3://").partition("/")
    body = cloud.client("s3", hub).get_object(
        Bucket=bucket, Key=key.rsplit("/", 1)[0] + "/predictions.csv"
    )
    rows = list(csv.DictReader(io.StringIO(body["Body"].read().decode())))[:5]
    features = [c for c in rows[0] if c not in {"label", "probability", "prediction"}]
    orchestrator = cloud.credentials.issue_role_session(accounts.orchestrator_arn, "demo")
    creds = cloud.client("sts", orchestrator).assume_role(
        RoleArn=accounts.deployer_arn("prod"), RoleSessionName="demo-smoke"
    )["Credentials"]
    runtime = cloud.boto3_session().client(
        "sagemaker-runtime",
        endpoint_url=cloud.url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    echo(f"   {'label':>5} {'offline p':>10} {'prod p':>10}")
    for row in rows:
        answer = runtime.invoke_endpoint(
            EndpointName=f"{model.name}-prod",
            ContentType="text/csv",
            Accept="text/csv",
            Body=",".join(row[c] for c in features),
        )
        served = float(answer["Body"].read().decode().strip())
        echo(f"   {row['label']:>5} {float(row['probability']):>10.4f} {served:>10.4f}")


def _print_ledger(cloud: Any, accounts: Any, model: Any, version: int, echo: Echo) -> None:
    from hubspoke.ledger import Ledger, verify_records

    ledger = Ledger(
        cloud.client("s3", cloud.root_session(accounts.account_id("hub"))),
        accounts.artifacts_bucket,
    )
    command = f"hubspoke ledger show {model.name} --version {version}"
    echo(f"\n== ledger of {model.name} v{version} ({command})")
    for record in ledger.records(model.name, version):
        where = f" {record.environment}" if record.environment else ""
        echo(f"   {record.seq:>3} {record.at}  {record.event}{where}  by {record.actor}")
    result = verify_records(model.name, ledger.raw(model.name))
    echo(f"   chain: {'intact' if result.ok else result.problem} ({result.records} records)")
    if not result.ok:
        raise DemoFailed(f"the ledger does not verify: {result.problem}")
