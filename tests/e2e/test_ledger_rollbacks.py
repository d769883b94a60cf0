"""Promotions and rollbacks in sequence, end to end through dag.test() on localcloud with
enforcement on, and what the ledger makes of them: every promotion and every rollback is
recorded (a version promoted again after a rollback, a second rollback to the same version),
and a default rollback restores the version served before the live one, never one that an
earlier rollback undid."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hubspoke.config import load_config
from hubspoke.hitl import answer_when_asked
from hubspoke.ledger import Ledger, LedgerRecord, previous_good_version, verify_records
from localcloud.server import LocalCloud

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config()
ACCOUNTS = CONFIG.accounts
MODEL = CONFIG.models.get("breast-cancer")
DATA_KEY = "data/breast-cancer/data.csv"
LIVE_EVENTS = {"deployed", "rolled_back"}

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("airflow_db", "airflow_as_orchestrator")]


@pytest.fixture(autouse=True)
def fast_bakes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The prod canary bakes for minutes on AWS; localcloud scales the waits down.
    monkeypatch.setenv("LOCALCLOUD_TIME_SCALE", "0.01")


@pytest.fixture(scope="module")
def versions(
    localcloud: LocalCloud,
    dags: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    approve: Callable[..., None],
) -> dict[str, int]:
    """Three approved hub versions A < B < C: one trained by the retrain DAG in dev, two more
    registered from its outputs as the retrain DAG's register step does."""
    from hubspoke.registry import Lineage, register_in_hub
    from hubspoke.training import TrainingOutputs
    from pipelines.breast_cancer.dataset import export_dataset

    path = export_dataset(tmp_path_factory.mktemp("data") / "data.csv")
    root = localcloud.client("s3", localcloud.root_session(ACCOUNTS.account_id("dev")))
    root.upload_file(str(path), ACCOUNTS.dev_bucket, DATA_KEY)
    with pytest.MonkeyPatch.context() as patch:
        _orchestrate(localcloud, patch)
        run = dags["retrain_breast_cancer"].test(
            run_conf={"data_uri": f"s3://{ACCOUNTS.dev_bucket}/{DATA_KEY}", "reason": "rollbacks"}
        )
    assert str(run.state) == "success", _states(run)
    trained = str(run.get_task_instance("register").xcom_pull(task_ids="register")["package_arn"])
    outputs = dict(run.get_task_instance("collect").xcom_pull(task_ids="collect"))
    orchestrator = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "tests")
    arns = {"A": trained}
    for label in ("B", "C"):
        arns[label] = register_in_hub(
            sagemaker=localcloud.client("sagemaker", orchestrator),
            s3=localcloud.client("s3", orchestrator),
            accounts=ACCOUNTS,
            model=MODEL,
            outputs=TrainingOutputs(
                **{**outputs, "execution_arn": f"{outputs['execution_arn']}-rollbacks-{label}"}
            ),
            lineage=Lineage(
                git_revision="test",
                data_uri=f"s3://{ACCOUNTS.dev_bucket}/{DATA_KEY}",
                dag_run_id=f"ledger-rollbacks-{label}",
                reason=f"rollback scenario: version {label}",
            ),
            inference_script=ROOT / MODEL.pipeline / "inference.py",
        )
    for arn in arns.values():
        approve(arn, reason="metrics reviewed")
    numbers = {label: int(arn.rsplit("/", 1)[-1]) for label, arn in arns.items()}
    assert numbers["A"] < numbers["B"] < numbers["C"], numbers
    return numbers


# --- helpers ------------------------------------------------------------------------------


def _orchestrate(localcloud: LocalCloud, patch: pytest.MonkeyPatch) -> None:
    patch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in localcloud.airflow_env(ACCOUNTS).items():
        patch.setenv(name, value)


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _ledger(localcloud: LocalCloud) -> Ledger:
    hub = localcloud.client("s3", localcloud.root_session(ACCOUNTS.account_id("hub")))
    return Ledger(hub, ACCOUNTS.artifacts_bucket)


def _records(localcloud: LocalCloud) -> list[LedgerRecord]:
    return _ledger(localcloud).records(MODEL.name)


def _promote(dags: dict[str, Any], version: int) -> Any:
    """A promotion of ``version`` to prod, a release manager approving the production gate."""
    gate = threading.Thread(
        target=answer_when_asked,
        args=("promote_breast_cancer", "production_gate", "Approve", "release-manager"),
        kwargs={"timeout": 300.0},
        daemon=True,
    )
    gate.start()
    run = dags["promote_breast_cancer"].test(run_conf={"version": version})
    gate.join(timeout=5)
    assert str(run.state) == "success", _states(run)
    return run


def _rollback(dags: dict[str, Any]) -> Any:
    """A rollback of prod to the previous good version (the DAG's default)."""
    return dags["rollback_breast_cancer"].test(run_conf={"environment": "prod"})


def _prod_version(localcloud: LocalCloud) -> int:
    sagemaker = localcloud.client("sagemaker", localcloud.root_session(ACCOUNTS.account_id("prod")))
    live = sagemaker.describe_endpoint(EndpointName="breast-cancer-prod")
    assert live["EndpointStatus"] == "InService", live
    # breast-cancer-v<N>-prod-<digest>
    return int(live["EndpointConfigName"].split("-v", 1)[1].split("-", 1)[0])


def _of_run(records: list[LedgerRecord], run: Any) -> list[tuple[str, str | None, int | None]]:
    return [
        (r.event, r.environment, r.version)
        for r in records
        if r.details.get("dag_run_id") == run.run_id
    ]


def _prod_changes(records: list[LedgerRecord], since: int) -> list[tuple[str, int | None]]:
    """What changed prod's endpoint after sequence number ``since``."""
    return [
        (r.event, r.version)
        for r in records
        if r.seq > since
        and r.environment == "prod"
        and r.event in LIVE_EVENTS
        and r.details.get("action") != "unchanged"
    ]


# --- the scenarios ------------------------------------------------------------------------


def test_promote_rollback_promote_rollback_records_every_step(
    localcloud: LocalCloud, dags: dict[str, Any], versions: dict[str, int]
) -> None:
    a, b = versions["A"], versions["B"]
    start = _records(localcloud)[-1].seq

    _promote(dags, a)
    first = _promote(dags, b)
    assert _prod_version(localcloud) == b
    assert previous_good_version(_records(localcloud), "prod") == (b, a)

    back = _rollback(dags)
    assert str(back.state) == "success", _states(back)
    assert _prod_version(localcloud) == a
    assert _of_run(_records(localcloud), back) == [("rolled_back", "prod", a)]

    # B again: staging still serves it (only prod was rolled back), prod changes back to it.
    again = _promote(dags, b)
    records = _records(localcloud)
    assert _of_run(records, again) == [
        ("deployed", "staging", b),
        ("validated", "staging", b),
        ("approved", "prod", b),
        ("deployed", "prod", b),
        ("validated", "prod", b),
        ("promoted", "prod", b),
    ]
    actions = {
        r.environment: r.details["action"]
        for r in records
        if r.event == "deployed" and r.details.get("dag_run_id") == again.run_id
    }
    assert actions == {"staging": "unchanged", "prod": "updated"}, actions
    assert _prod_version(localcloud) == b
    assert previous_good_version(records, "prod") == (b, a)
    # One registry approval of B on record, though two runs promoted it; two production
    # approvals (a person approved each run's gate) and two promotions.
    of_b = [(r.event, r.environment) for r in records if r.version == b]
    assert of_b.count(("approved", None)) == 1, of_b
    assert of_b.count(("approved", "prod")) == 2, of_b
    assert of_b.count(("promoted", "prod")) == 2, of_b
    assert [r.details["dag_run_id"] for r in records if (r.event, r.version) == ("promoted", b)][
        -2:
    ] == [first.run_id, again.run_id]

    second = _rollback(dags)
    assert str(second.state) == "success", _states(second)
    assert _prod_version(localcloud) == a
    records = _records(localcloud)
    assert _of_run(records, second) == [("rolled_back", "prod", a)]
    (restore,) = [r for r in records if r.details.get("dag_run_id") == second.run_id]
    assert restore.details["from_version"] == b
    assert _prod_changes(records, start) == [
        ("deployed", a),
        ("deployed", b),
        ("rolled_back", a),
        ("deployed", b),
        ("rolled_back", a),
    ]
    assert previous_good_version(records, "prod")[0] == a
    assert verify_records(MODEL.name, _ledger(localcloud).raw(MODEL.name)).ok


def test_a_second_default_rollback_never_restores_the_version_the_first_undid(
    localcloud: LocalCloud, dags: dict[str, Any], versions: dict[str, int]
) -> None:
    a, b, c = versions["A"], versions["B"], versions["C"]
    if _prod_version(localcloud) != a:
        _promote(dags, a)
    start = _records(localcloud)[-1].seq
    _promote(dags, b)
    _promote(dags, c)
    assert _prod_version(localcloud) == c

    # C misbehaves: back to B.
    first = _rollback(dags)
    assert str(first.state) == "success", _states(first)
    assert _prod_version(localcloud) == b
    # B misbehaves too: back to A, the version served before B. C was validated after B, but
    # the first rollback undid it; it must not come back.
    second = _rollback(dags)
    assert str(second.state) == "success", _states(second)
    assert _prod_version(localcloud) == a
    records = _records(localcloud)
    assert _of_run(records, second) == [("rolled_back", "prod", a)]
    assert _prod_changes(records, start) == [
        ("deployed", b),
        ("deployed", c),
        ("rolled_back", b),
        ("rolled_back", a),
    ]
    assert verify_records(MODEL.name, _ledger(localcloud).raw(MODEL.name)).ok


def test_default_rollbacks_walk_back_until_nothing_is_left_then_fail_clearly(
    localcloud: LocalCloud,
    dags: dict[str, Any],
    versions: dict[str, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each default rollback restores the version prod served before the live one, down to
    the first; then there is nothing to restore, and the run says so and changes nothing."""
    from hubspoke.dagfactory.rollback import NothingToRestore

    undone: set[int] = set()
    for _ in range(10):
        live = _prod_version(localcloud)
        before = _records(localcloud)[-1].seq
        capsys.readouterr()
        run = _rollback(dags)
        if str(run.state) == "failed":
            break
        undone.add(live)
        restored = _prod_version(localcloud)
        assert restored not in undone, (restored, undone)
    else:
        pytest.fail("ten default rollbacks and still something to restore")

    states = _states(run)
    assert states["choose"] == "failed", states
    assert run.get_task_instance("choose").try_number == 1  # bad input: not retried
    assert _raised(capsys.readouterr().out, NothingToRestore) == [
        f"nothing to roll back to: no {MODEL.name} version that prod served before v{live} "
        "passed validation there; pass the version to restore"
    ]
    assert _prod_version(localcloud) == live
    assert [r for r in _records(localcloud) if r.seq > before] == []


def _raised(output: str, error: type[BaseException]) -> list[str]:
    """The messages of ``error`` in the task logs dag.test() printed."""
    prefix = f"{error.__module__}.{error.__qualname__}: "
    return [line[len(prefix) :] for line in output.splitlines() if line.startswith(prefix)]
