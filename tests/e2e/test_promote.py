"""promote_<model> end to end through dag.test() on localcloud with enforcement on: a real
trained version goes dev → hub → staging → prod, a person answers the production gate."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hubspoke.config import load_config
from hubspoke.hitl import answer_when_asked
from hubspoke.ledger import Ledger, verify_records
from localcloud.server import LocalCloud

CONFIG = load_config()
MODEL = CONFIG.models.get("breast-cancer")
ACCOUNTS = CONFIG.accounts
DATA_KEY = "data/breast-cancer/data.csv"

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("airflow_db", "airflow_as_orchestrator")]


@pytest.fixture(autouse=True)
def fast_bakes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The prod canary bakes for minutes on AWS; localcloud scales the waits down.
    monkeypatch.setenv("LOCALCLOUD_TIME_SCALE", "0.01")


def _retrain(
    localcloud: LocalCloud, dags: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A version registered by the retrain DAG (real training in dev)."""
    from pipelines.breast_cancer.dataset import export_dataset

    path = export_dataset(tmp_path_factory.mktemp("data") / "data.csv")
    root = localcloud.client("s3", localcloud.root_session(ACCOUNTS.account_id("dev")))
    root.upload_file(str(path), ACCOUNTS.dev_bucket, DATA_KEY)
    with pytest.MonkeyPatch.context() as patch:
        _orchestrate(localcloud, patch)
        run = dags["retrain_breast_cancer"].test(
            run_conf={"data_uri": f"s3://{ACCOUNTS.dev_bucket}/{DATA_KEY}"}
        )
    assert str(run.state) == "success"
    return str(run.get_task_instance("register").xcom_pull(task_ids="register")["package_arn"])


@pytest.fixture(scope="module")
def trained(
    localcloud: LocalCloud, dags: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A version registered by the retrain DAG (real training in dev)."""
    return _retrain(localcloud, dags, tmp_path_factory)


def _promote(dags: dict[str, Any], arn: str) -> Any:
    gate = threading.Thread(
        target=answer_when_asked,
        args=("promote_breast_cancer", "production_gate", "Approve", "release-manager"),
        daemon=True,
    )
    gate.start()
    run = dags["promote_breast_cancer"].test(run_conf={"package_arn": arn})
    gate.join(timeout=5)
    return run


def _orchestrate(localcloud: LocalCloud, patch: pytest.MonkeyPatch) -> None:
    patch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in localcloud.airflow_env(ACCOUNTS).items():
        patch.setenv(name, value)


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_happy_path_to_prod(
    localcloud: LocalCloud, dags: dict[str, Any], trained: str, approve: Callable[..., None]
) -> None:
    approve(trained, reason="metrics reviewed")
    run = _promote(dags, trained)
    assert str(run.state) == "success", _states(run)
    version = int(trained.rsplit("/", 1)[-1])
    prod = localcloud.client("sagemaker", localcloud.root_session(ACCOUNTS.account_id("prod")))
    live = prod.describe_endpoint(EndpointName="breast-cancer-prod")
    assert live["EndpointStatus"] == "InService"
    assert live["EndpointConfigName"].startswith(f"breast-cancer-v{version}-prod-")
    hub = localcloud.client("s3", localcloud.root_session(ACCOUNTS.account_id("hub")))
    ledger = Ledger(hub, ACCOUNTS.artifacts_bucket)
    journey = [(r.event, r.environment) for r in ledger.records("breast-cancer", version)]
    assert journey == [
        ("registered", None),
        ("approved", None),
        ("deployed", "staging"),
        ("validated", "staging"),
        ("approved", "prod"),
        ("deployed", "prod"),
        ("validated", "prod"),
        ("promoted", "prod"),
    ]
    assert verify_records("breast-cancer", ledger.raw("breast-cancer")).ok
    records = ledger.records("breast-cancer", version)
    prod_approval = records[4]
    assert prod_approval.actor == "airflow user release-manager"
    # The audit says which guards watched each deployment.
    staging_deploy, prod_deploy = records[2], records[5]
    assert staging_deploy.details["rollback_alarms"] == []
    assert prod_deploy.details["strategy"] == "canary"
    assert prod_deploy.details["rollback_alarms"] == (
        MODEL.environments.prod.deployment.alarm_names
    )
    verify = subprocess.run(
        [
            str(Path(sys.executable).with_name("hubspoke")),
            "ledger",
            "verify",
            "breast-cancer",
            "--endpoint",
            localcloud.url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0 and verify.stdout.startswith("breast-cancer: ok"), verify.stdout


def test_rollback_restores_the_previous_version(
    localcloud: LocalCloud,
    dags: dict[str, Any],
    trained: str,
    tmp_path_factory: pytest.TempPathFactory,
    approve: Callable[..., None],
) -> None:
    newer = _retrain(localcloud, dags, tmp_path_factory)
    approve(newer)
    assert str(_promote(dags, newer).state) == "success"
    prod = localcloud.client("sagemaker", localcloud.root_session(ACCOUNTS.account_id("prod")))
    old, new = int(trained.rsplit("/", 1)[-1]), int(newer.rsplit("/", 1)[-1])
    assert prod.describe_endpoint(EndpointName="breast-cancer-prod")[
        "EndpointConfigName"
    ].startswith(f"breast-cancer-v{new}-prod-")
    # The newer version misbehaves: its error alarm is in ALARM when the rollback starts. A
    # restore must not be undone by the alarm the bad version raised.
    alarm = MODEL.environments.prod.deployment.alarm_names[0]
    cloudwatch = localcloud.client(
        "cloudwatch", localcloud.root_session(ACCOUNTS.account_id("prod"))
    )
    cloudwatch.set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="5XX errors from the new version"
    )
    try:
        run = dags["rollback_breast_cancer"].test(run_conf={"environment": "prod"})
    finally:
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="test over")
    assert str(run.state) == "success", _states(run)
    live = prod.describe_endpoint(EndpointName="breast-cancer-prod")
    assert live["EndpointConfigName"].startswith(f"breast-cancer-v{old}-prod-")
    assert not live.get("FailureReason"), live
    hub = localcloud.client("s3", localcloud.root_session(ACCOUNTS.account_id("hub")))
    last = Ledger(hub, ACCOUNTS.artifacts_bucket).records("breast-cancer")[-1]
    assert (last.event, last.environment, last.version) == ("rolled_back", "prod", old)
    assert last.details["from_version"] == new
    assert last.details["strategy"] == "restore"
