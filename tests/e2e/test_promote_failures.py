"""promote_<model> when things go wrong, end to end through dag.test() on localcloud with
enforcement on: a rejected version, a staging validation that cannot pass, a prod deployment
that rolls back, and a re-run of a finished promotion; and what the ledger says of each."""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow.sdk.exceptions import AirflowFailException
from botocore.exceptions import ClientError

from hubspoke.config import load_config
from hubspoke.hitl import answer_when_asked, respond, waiting_run_id
from hubspoke.ledger import (
    Ledger,
    LedgerRecord,
    champion_version,
    previous_good_version,
    verify_records,
)
from localcloud.server import LocalCloud

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config()
ACCOUNTS = CONFIG.accounts
MODEL = CONFIG.models.get("breast-cancer")
DAG_ID = "promote_breast_cancer"
DATA_KEY = "data/breast-cancer/data.csv"
PROD_ALARM = "breast-cancer-prod-invocation-errors"
PROD_ENDPOINT = "breast-cancer-prod"
STAGING_ENDPOINT = "breast-cancer-staging"
PROD_TASKS = (
    "production_gate",
    "record_gate",
    "prod.deploy",
    "prod.record_deployment",
    "prod.validate",
    "promoted",
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("airflow_db", "airflow_as_orchestrator")]


@pytest.fixture(autouse=True)
def fast_bakes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The prod canary bakes for minutes on AWS; localcloud scales the waits down.
    monkeypatch.setenv("LOCALCLOUD_TIME_SCALE", "0.01")


# --- versions to promote ------------------------------------------------------------------


@pytest.fixture(scope="module")
def training(
    localcloud: LocalCloud, dags: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One real training in dev through the retrain DAG: its registered version and outputs."""
    from pipelines.breast_cancer.dataset import export_dataset

    path = export_dataset(tmp_path_factory.mktemp("data") / "data.csv")
    root = localcloud.client("s3", localcloud.root_session(ACCOUNTS.account_id("dev")))
    root.upload_file(str(path), ACCOUNTS.dev_bucket, DATA_KEY)
    with pytest.MonkeyPatch.context() as patch:
        _orchestrate(localcloud, patch)
        run = dags["retrain_breast_cancer"].test(
            run_conf={
                "data_uri": f"s3://{ACCOUNTS.dev_bucket}/{DATA_KEY}",
                "reason": "promote failure scenarios",
            }
        )
    assert str(run.state) == "success", _states(run)
    registered = run.get_task_instance("register").xcom_pull(task_ids="register")
    outputs = run.get_task_instance("collect").xcom_pull(task_ids="collect")
    return {"package_arn": str(registered["package_arn"]), "outputs": dict(outputs)}


@pytest.fixture(scope="module")
def new_version(localcloud: LocalCloud, training: dict[str, Any]) -> Any:
    """Registers another hub version of the trained artifact, as the retrain DAG's register
    step does (a distinct execution ARN per version, so each call is a new version)."""
    from hubspoke.registry import Lineage, register_in_hub
    from hubspoke.training import TrainingOutputs

    orchestrator = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "tests")
    outputs = training["outputs"]

    def register(label: str) -> str:
        return register_in_hub(
            sagemaker=localcloud.client("sagemaker", orchestrator),
            s3=localcloud.client("s3", orchestrator),
            accounts=ACCOUNTS,
            model=MODEL,
            outputs=TrainingOutputs(
                **{**outputs, "execution_arn": f"{outputs['execution_arn']}-{label}"}
            ),
            lineage=Lineage(
                git_revision="test",
                data_uri=f"s3://{ACCOUNTS.dev_bucket}/{DATA_KEY}",
                dag_run_id=f"promote-failures-{label}",
                reason=f"promote failure scenario: {label}",
            ),
            inference_script=ROOT / MODEL.pipeline / "inference.py",
        )

    return register


@pytest.fixture(scope="module")
def live_in_prod(
    localcloud: LocalCloud,
    dags: dict[str, Any],
    training: dict[str, Any],
    approve: Callable[..., None],
) -> str:
    """The trained version promoted all the way to prod (the happy path), once per module."""
    arn = training["package_arn"]
    with pytest.MonkeyPatch.context() as patch:
        _orchestrate(localcloud, patch)
        patch.setenv("LOCALCLOUD_TIME_SCALE", "0.01")
        approve(arn, reason="metrics reviewed")
        run = _promote_with_gate(dags, arn, "Approve")
    assert str(run.state) == "success", _states(run)
    assert _live_config(localcloud, "prod").startswith(f"breast-cancer-v{_version(arn)}-prod-")
    return arn


# --- helpers ------------------------------------------------------------------------------


def _orchestrate(localcloud: LocalCloud, patch: pytest.MonkeyPatch) -> None:
    patch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in localcloud.airflow_env(ACCOUNTS).items():
        patch.setenv(name, value)


def _promote_with_gate(dags: dict[str, Any], arn: str, option: str) -> Any:
    """Run the promote DAG for ``arn`` while a release manager answers the production gate."""
    gate = threading.Thread(
        target=answer_when_asked,
        args=(DAG_ID, "production_gate", option, "release-manager"),
        kwargs={"timeout": 300.0},
        daemon=True,
    )
    gate.start()
    run = dags[DAG_ID].test(run_conf={"package_arn": arn})
    gate.join(timeout=5)
    return run


def _version(arn: str) -> int:
    return int(arn.rsplit("/", 1)[-1])


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _spoke(localcloud: LocalCloud, environment: str, service: str) -> Any:
    return localcloud.client(service, localcloud.root_session(ACCOUNTS.account_id(environment)))


def _live_config(localcloud: LocalCloud, environment: str) -> str:
    described = _spoke(localcloud, environment, "sagemaker").describe_endpoint(
        EndpointName=f"breast-cancer-{environment}"
    )
    assert described["EndpointStatus"] == "InService", described
    return str(described["EndpointConfigName"])


def _endpoint_configs(localcloud: LocalCloud, environment: str, version: int) -> list[str]:
    sagemaker = _spoke(localcloud, environment, "sagemaker")
    names: list[str] = []
    for page in sagemaker.get_paginator("list_endpoint_configs").paginate(
        NameContains=f"breast-cancer-v{version}-"
    ):
        names += [c["EndpointConfigName"] for c in page["EndpointConfigs"]]
    return names


def _hub_s3(localcloud: LocalCloud) -> Any:
    return localcloud.client("s3", localcloud.root_session(ACCOUNTS.account_id("hub")))


def _ledger(localcloud: LocalCloud) -> Ledger:
    return Ledger(_hub_s3(localcloud), ACCOUNTS.artifacts_bucket)


def _journey(localcloud: LocalCloud, version: int) -> list[tuple[str, str | None]]:
    return [(r.event, r.environment) for r in _ledger(localcloud).records(MODEL.name, version)]


def _of_run(localcloud: LocalCloud, run: Any) -> list[LedgerRecord]:
    """The records a DAG run wrote."""
    return [
        r
        for r in _ledger(localcloud).records(MODEL.name)
        if r.details.get("dag_run_id") == run.run_id
    ]


def _invoke_prod(localcloud: LocalCloud) -> float:
    from sklearn.datasets import load_breast_cancer

    row = load_breast_cancer().data[0]
    answer = _spoke(localcloud, "prod", "sagemaker-runtime").invoke_endpoint(
        EndpointName=PROD_ENDPOINT,
        ContentType="text/csv",
        Accept="text/csv",
        Body=",".join(str(v) for v in row),
    )
    return float(answer["Body"].read().decode().strip().splitlines()[0])


def _raised(output: str, error: type[BaseException]) -> list[str]:
    """The messages of ``error`` in the task logs dag.test() printed (one per failed try)."""
    prefix = f"{error.__module__}.{error.__qualname__}: "
    return [line[len(prefix) :] for line in output.splitlines() if line.startswith(prefix)]


class _GateGuard:
    """Rejects the production gate if it is still asking after ``after`` seconds, so a run
    that wrongly reaches the gate fails instead of waiting for a person forever."""

    def __init__(self, after: float) -> None:
        self.after = after
        self.answered: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> _GateGuard:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        if self._stop.wait(self.after):
            return
        while not self._stop.is_set():
            run_id = waiting_run_id(DAG_ID, "production_gate")
            if run_id is not None:
                respond(DAG_ID, run_id, "production_gate", "Reject", "timeout-guard")
                self.answered.append(run_id)
            self._stop.wait(0.5)


class _BadTrafficWhileUpdating:
    """Sends rows of the wrong width to the prod endpoint (the model answers 500) for as long
    as it is Updating, as misbehaving clients would during a deployment."""

    def __init__(self, localcloud: LocalCloud) -> None:
        self.sent = 0
        self._sagemaker = _spoke(localcloud, "prod", "sagemaker")
        self._runtime = _spoke(localcloud, "prod", "sagemaker-runtime")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _BadTrafficWhileUpdating:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            status = self._sagemaker.describe_endpoint(EndpointName=PROD_ENDPOINT)
            if status["EndpointStatus"] == "Updating":
                with contextlib.suppress(ClientError):
                    self._runtime.invoke_endpoint(
                        EndpointName=PROD_ENDPOINT, ContentType="text/csv", Body="1,2,3"
                    )
                self.sent += 1
            self._stop.wait(0.05)


# --- the scenarios ------------------------------------------------------------------------


def test_a_rejected_package_never_deploys(
    localcloud: LocalCloud,
    dags: dict[str, Any],
    new_version: Any,
    capsys: pytest.CaptureFixture[str],
    approve: Callable[..., None],
) -> None:
    from hubspoke.operators.approval import PackageRejectedError

    arn = new_version("rejected")
    version = _version(arn)
    reason = "calibration drifts on the 2025 cohort; retrain with the new labels"
    approve(arn, status="Rejected", reason=reason)

    run = dags[DAG_ID].test(run_conf={"package_arn": arn})

    states = _states(run)
    assert str(run.state) == "failed", states
    assert states["resolve"] == "success", states
    assert states["wait_for_approval"] == "failed", states
    assert states["record_rejection"] == "success", states
    # Nothing was deployed or asked at the gate, so there is nothing else to record either.
    recorders = ("staging.record_failure", "prod.record_failure", "record_gate_rejection")
    assert {states[k] for k in recorders} <= {"skipped", "None"}, states
    rest = {
        k: v
        for k, v in states.items()
        if k not in {"resolve", "wait_for_approval", "record_rejection", *recorders}
    }
    assert set(rest.values()) <= {"upstream_failed", "None"}, states
    # Rejection is final: one try, no retries, and the approver's reason in the error.
    assert run.get_task_instance("wait_for_approval").try_number == 1
    assert _raised(capsys.readouterr().out, PackageRejectedError) == [
        f"{arn} was rejected: {reason}"
    ]
    assert _endpoint_configs(localcloud, "staging", version) == []
    assert _endpoint_configs(localcloud, "prod", version) == []
    # The ledger has the registry's decision, with who made it and why; nothing else.
    (rejected,) = _ledger(localcloud).records(MODEL.name, version)
    assert (rejected.event, rejected.environment) == ("rejected", None)
    assert rejected.actor.endswith(":assumed-role/hubspoke-approver/reviewer"), rejected.actor
    assert rejected.details["description"] == reason
    assert rejected.details["dag_run_id"] == run.run_id


def test_rerunning_a_finished_promotion_changes_no_endpoint_and_says_so(
    localcloud: LocalCloud, dags: dict[str, Any], live_in_prod: str
) -> None:
    version = _version(live_in_prod)
    staging, prod = _live_config(localcloud, "staging"), _live_config(localcloud, "prod")
    # The previous run of this promotion is the last thing deployed to both environments.
    assert staging.startswith(f"breast-cancer-v{version}-staging-"), staging
    assert prod.startswith(f"breast-cancer-v{version}-prod-"), prod
    before = _journey(localcloud, version)
    history = {
        e: previous_good_version(_ledger(localcloud).records(MODEL.name), e)
        for e in ("staging", "prod")
    }

    run = _promote_with_gate(dags, live_in_prod, "Approve")

    assert str(run.state) == "success", _states(run)
    for environment, config in (("staging", staging), ("prod", prod)):
        task_id = f"{environment}.deploy"
        deployed = run.get_task_instance(task_id).xcom_pull(task_ids=task_id)
        assert deployed["action"] == "unchanged", deployed
        assert deployed["config"] == config, deployed
        assert _live_config(localcloud, environment) == config
    # The run records what it did: it found each endpoint already serving the version
    # (action "unchanged"), validated it again, and a person approved prod again. The
    # registry approval is the one already on record, not a second one.
    written = _of_run(localcloud, run)
    assert [(r.event, r.environment, r.version) for r in written] == [
        ("deployed", "staging", version),
        ("validated", "staging", version),
        ("approved", "prod", version),
        ("deployed", "prod", version),
        ("validated", "prod", version),
        ("promoted", "prod", version),
    ]
    assert [r.details["action"] for r in written if r.event == "deployed"] == [
        "unchanged",
        "unchanged",
    ]
    assert [r.details["config"] for r in written if r.event == "deployed"] == [staging, prod]
    assert _journey(localcloud, version) == before + [(r.event, r.environment) for r in written]
    # What is live, and what a rollback would restore, did not move.
    records = _ledger(localcloud).records(MODEL.name)
    for environment in ("staging", "prod"):
        assert previous_good_version(records, environment) == history[environment]
    assert verify_records(MODEL.name, _ledger(localcloud).raw(MODEL.name)).ok


def test_a_failed_staging_validation_blocks_production(
    localcloud: LocalCloud,
    new_version: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    approve: Callable[..., None],
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from hubspoke.validation import ValidationFailed

    config_dir = tmp_path / "config"
    shutil.copytree(ROOT / "config", config_dir)
    models = yaml.safe_load((config_dir / "models.yaml").read_text())
    entry = next(m for m in models["models"] if m["name"] == MODEL.name)
    entry["validation"]["p95_latency_ms"] = 0.001  # no endpoint answers in a microsecond
    (config_dir / "models.yaml").write_text(yaml.safe_dump(models, sort_keys=False))
    monkeypatch.setenv("HUBSPOKE_CONFIG_DIR", str(config_dir))
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}, bag.import_errors
    dag = bag.dags[DAG_ID]
    assert "p95 ≤ 0.001 ms" in (dag.doc_md or ""), dag.doc_md

    arn = new_version("slow-staging")
    version = _version(arn)
    approve(arn, reason="metrics reviewed")
    prod = _spoke(localcloud, "prod", "sagemaker")
    endpoints = prod.list_endpoints(NameContains=PROD_ENDPOINT)["Endpoints"]
    prod_before = [(e["EndpointName"], e["LastModifiedTime"]) for e in endpoints]
    prod_config = _live_config(localcloud, "prod") if prod_before else None
    champion_before = champion_version(_ledger(localcloud).records(MODEL.name))
    staging_before = previous_good_version(_ledger(localcloud).records(MODEL.name), "staging")

    with _GateGuard(after=120.0) as guard:
        run = dag.test(run_conf={"package_arn": arn})

    states = _states(run)
    assert str(run.state) == "failed", states
    assert states["staging.deploy"] == "success", states
    assert states["staging.record_deployment"] == "success", states
    assert states["staging.validate"] == "failed", states
    assert states["staging.record_failure"] == "success", states
    for task_id in PROD_TASKS:
        assert states[task_id] in {"upstream_failed", "None"}, states
    assert guard.answered == [], "the production gate was asked after a failed validation"
    messages = _raised(capsys.readouterr().out, ValidationFailed)
    assert messages, "staging.validate failed without a ValidationFailed"
    assert all(
        m.startswith(f"{STAGING_ENDPOINT}: p95 latency ") and m.endswith(" ms > 0.001 ms")
        for m in messages
    ), messages
    endpoints = prod.list_endpoints(NameContains=PROD_ENDPOINT)["Endpoints"]
    assert [(e["EndpointName"], e["LastModifiedTime"]) for e in endpoints] == prod_before
    if prod_config is not None:
        assert _live_config(localcloud, "prod") == prod_config
    assert _endpoint_configs(localcloud, "prod", version) == []
    # Staging serves the new version although it failed validation: the ledger says so, and
    # says what failed.
    staging_config = _live_config(localcloud, "staging")
    assert staging_config.startswith(f"breast-cancer-v{version}-staging-"), staging_config
    assert _journey(localcloud, version) == [
        ("approved", None),
        ("deployed", "staging"),
        ("deployment_failed", "staging"),
    ]
    _, deployed, failed = _ledger(localcloud).records(MODEL.name, version)
    assert deployed.details["config"] == staging_config
    assert deployed.details["action"] in {"created", "updated"}, deployed.details
    assert failed.details["task"] == "staging.validate"
    assert failed.details["error"] == f"ValidationFailed: {messages[-1]}", failed.details
    assert failed.details["dag_run_id"] == deployed.details["dag_run_id"] == run.run_id
    # The ledger knows what staging serves; a default staging rollback restores the version
    # that passed there before, and the prod champion did not change.
    records = _ledger(localcloud).records(MODEL.name)
    live_before, _ = staging_before
    assert previous_good_version(records, "staging")[0] == version
    if live_before is not None:
        assert previous_good_version(records, "staging")[1] == live_before
    assert champion_version(records) == champion_before
    assert verify_records(MODEL.name, _ledger(localcloud).raw(MODEL.name)).ok


def test_a_broken_prod_deployment_rolls_back_and_fails_clearly(
    localcloud: LocalCloud,
    dags: dict[str, Any],
    live_in_prod: str,
    new_version: Any,
    capsys: pytest.CaptureFixture[str],
    approve: Callable[..., None],
) -> None:
    """Requests the model cannot read reach prod while the canary bakes: the 5XX rollback
    alarm hubspoke created from config goes into ALARM on the endpoint's real metrics, and
    SageMaker rolls the update back."""
    from hubspoke.operators.deploy import DeploymentFailed

    previous = _live_config(localcloud, "prod")
    assert previous.startswith(f"breast-cancer-v{_version(live_in_prod)}-prod-"), previous
    assert PROD_ALARM in MODEL.environments.prod.deployment.alarm_names
    arn = new_version("alarmed-canary")
    version = _version(arn)
    approve(arn, reason="metrics reviewed")
    with _BadTrafficWhileUpdating(localcloud) as traffic:
        run = _promote_with_gate(dags, arn, "Approve")
    assert traffic.sent > 0, "no request reached prod while it was updating"

    states = _states(run)
    assert str(run.state) == "failed", states
    for task_id in ("staging.deploy", "staging.validate", "production_gate", "record_gate"):
        assert states[task_id] == "success", states
    assert states["prod.deploy"] == "failed", states
    assert states["prod.record_deployment"] == "upstream_failed", states
    assert states["prod.validate"] == "upstream_failed", states
    assert states["prod.record_failure"] == "success", states
    assert states["promoted"] == "upstream_failed", states
    # A rollback is final for the task: one try, and the error says what happened and why.
    assert run.get_task_instance("prod.deploy").try_number == 1
    messages = _raised(capsys.readouterr().out, DeploymentFailed)
    assert len(messages) == 1, messages
    assert messages[0].startswith(f"{PROD_ENDPOINT} in prod was rolled back to {previous} ")
    assert f"instead of serving v{version} (breast-cancer-v{version}-prod-" in messages[0]
    assert f"CloudWatch alarm {PROD_ALARM} went into ALARM" in messages[0]

    live = _spoke(localcloud, "prod", "sagemaker").describe_endpoint(EndpointName=PROD_ENDPOINT)
    assert live["EndpointStatus"] == "InService", live
    assert live["EndpointConfigName"] == previous
    assert PROD_ALARM in live.get("FailureReason", "")
    assert 0.0 <= _invoke_prod(localcloud) <= 1.0
    (alarm,) = _spoke(localcloud, "prod", "cloudwatch").describe_alarms(AlarmNames=[PROD_ALARM])[
        "MetricAlarms"
    ]
    assert alarm["StateValue"] == "ALARM", alarm
    assert alarm["StateReason"].startswith("Threshold Crossed"), alarm["StateReason"]
    assert "managed from config/models.yaml" in alarm["AlarmDescription"]
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "EndpointName": PROD_ENDPOINT,
        "VariantName": MODEL.environments.prod.variant_name,
    }
    # SageMaker restored the previous config, so prod never served this version: no
    # `deployed` prod record, and the failure with SageMaker's reason.
    assert _journey(localcloud, version) == [
        ("approved", None),
        ("deployed", "staging"),
        ("validated", "staging"),
        ("approved", "prod"),
        ("deployment_failed", "prod"),
    ]
    failed = _ledger(localcloud).records(MODEL.name, version)[-1]
    assert failed.details["task"] == "prod.deploy"
    assert failed.details["error"] == f"DeploymentFailed: {messages[0]}", failed.details
    assert previous_good_version(_ledger(localcloud).records(MODEL.name), "prod")[0] == (
        _version(live_in_prod)
    )


def test_a_rejected_production_gate_is_final_and_recorded(
    localcloud: LocalCloud,
    dags: dict[str, Any],
    live_in_prod: str,
    new_version: Any,
    capsys: pytest.CaptureFixture[str],
    approve: Callable[..., None],
) -> None:
    from hubspoke.operators.gate import GateRejected

    prod_before = _live_config(localcloud, "prod")
    arn = new_version("gate-rejected")
    version = _version(arn)
    approve(arn, reason="reviewed for the gate scenario")
    capsys.readouterr()

    run = _promote_with_gate(dags, arn, "Reject")

    states = _states(run)
    assert str(run.state) == "failed", states
    assert states["staging.validate"] == "success", states
    assert states["production_gate"] == "failed", states
    assert states["record_gate_rejection"] == "success", states
    assert {states["prod.deploy"], states["promoted"]} == {"upstream_failed"}, states
    # Final: the failure is not one a retry would put to a person again.
    assert issubclass(GateRejected, AirflowFailException)
    assert _raised(capsys.readouterr().out, GateRejected) == [
        AnyStartingWith("airflow user release-manager rejected the production gate at ")
    ]
    assert _live_config(localcloud, "prod") == prod_before  # prod keeps what it served
    assert _endpoint_configs(localcloud, "prod", version) == []
    journey = [(r.event, r.environment, r.actor) for r in _of_run(localcloud, run)]
    assert journey[-1] == ("rejected", "prod", "airflow user release-manager"), journey
    assert [(e, env) for e, env, _ in journey] == [
        ("approved", None),
        ("deployed", "staging"),
        ("validated", "staging"),
        ("rejected", "prod"),
    ], journey


class AnyStartingWith(str):
    """Equal to any string that starts with it (for messages carrying a time)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith(str(self))

    __hash__ = str.__hash__
