"""The ledger in the hub bucket, written as the hub orchestrator through localcloud."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from hubspoke.config import load_config
from hubspoke.ledger import Ledger, verify_records
from localcloud.server import LocalCloud

ACCOUNTS = load_config().accounts
HUBSPOKE = str(Path(sys.executable).with_name("hubspoke"))


@pytest.fixture
def ledger(localcloud: LocalCloud) -> Ledger:
    session = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "ledger-test")
    return Ledger(localcloud.client("s3", session), ACCOUNTS.artifacts_bucket)


@pytest.fixture
def model() -> str:
    return f"ledger-test-{uuid.uuid4().hex[:8]}"


def _journey(ledger: Ledger, model: str) -> None:
    actor = ACCOUNTS.orchestrator_arn
    ledger.append(model, "registered", actor=actor, version=1, details={"roc_auc": 0.99})
    ledger.append(model, "approved", actor=ACCOUNTS.approver_arn, version=1)
    ledger.append(model, "deployed", actor=actor, version=1, environment="staging")
    ledger.append(model, "validated", actor=actor, version=1, environment="staging")


def test_records_chain_and_verify(ledger: Ledger, model: str) -> None:
    _journey(ledger, model)
    records = ledger.records(model)
    assert [r.event for r in records] == ["registered", "approved", "deployed", "validated"]
    assert [r.seq for r in records] == [1, 2, 3, 4]
    assert all(r.intact for r in records)
    assert records[1].prev_hash == records[0].hash
    assert verify_records(model, ledger.raw(model)).ok
    assert [r.event for r in ledger.records(model, version=1)][:1] == ["registered"]


def test_prod_deployment_without_production_approval_is_flagged(ledger: Ledger, model: str) -> None:
    _journey(ledger, model)
    ledger.append(model, "deployed", actor=ACCOUNTS.orchestrator_arn, version=1, environment="prod")
    result = verify_records(model, ledger.raw(model))
    assert not result.ok
    assert result.problem == (
        f"ledger/{model}/00000005.json: version 1 deployed to prod without a production approval"
    )


def test_tampering_is_detected_and_named(
    localcloud: LocalCloud, ledger: Ledger, model: str
) -> None:
    _journey(ledger, model)
    hub_root = localcloud.client("s3", localcloud.root_session(ACCOUNTS.account_id("hub")))
    key = f"ledger/{model}/00000002.json"
    record = json.loads(
        hub_root.get_object(Bucket=ACCOUNTS.artifacts_bucket, Key=key)["Body"].read()
    )
    record["actor"] = "arn:aws:iam::111111111111:role/someone-else"
    hub_root.put_object(Bucket=ACCOUNTS.artifacts_bucket, Key=key, Body=json.dumps(record).encode())
    result = verify_records(model, ledger.raw(model))
    assert result.problem == f"{key}: content does not match its hash (the record was edited)"


def test_concurrent_appends_never_fork(ledger: Ledger, model: str) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(3):
                ledger.append(model, "validated", actor=f"writer-{n}", version=i, attempts=20)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    records = ledger.records(model)
    assert [r.seq for r in records] == list(range(1, 13))
    assert verify_records(model, ledger.raw(model)).ok


def test_unknown_event_is_refused(ledger: Ledger, model: str) -> None:
    with pytest.raises(ValueError, match="unknown ledger event 'shipped'"):
        ledger.append(model, "shipped", actor="x")
    assert ledger.records(model) == []


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HUBSPOKE, *args], capture_output=True, text=True, timeout=120)


def test_cli_show_and_verify(localcloud: LocalCloud, ledger: Ledger, model: str) -> None:
    _journey(ledger, model)
    shown = _cli("ledger", "show", model, "--endpoint", localcloud.url)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split()[3:5] == ["registered", "by"] and "roc_auc: 0.99" in lines[1]
    assert _cli("ledger", "verify", model, "--endpoint", localcloud.url).stdout == (
        f"{model}: ok (4 records)\n"
    )
    hub_root = localcloud.client("s3", localcloud.root_session(ACCOUNTS.account_id("hub")))
    key = f"ledger/{model}/00000002.json"
    # Not even the hub account's root may delete a ledger record (bucket policy)...
    with pytest.raises(ClientError, match="explicit deny in a resource-based policy"):
        hub_root.delete_object(Bucket=ACCOUNTS.artifacts_bucket, Key=key)
    # ...but whoever can write may still try to rewrite one: verify names it.
    record = json.loads(
        hub_root.get_object(Bucket=ACCOUNTS.artifacts_bucket, Key=key)["Body"].read()
    )
    record["details"] = {"note": "rewritten"}
    hub_root.put_object(Bucket=ACCOUNTS.artifacts_bucket, Key=key, Body=json.dumps(record).encode())
    broken = _cli("ledger", "verify", model, "--endpoint", localcloud.url)
    assert broken.returncode == 1
    assert broken.stdout == (
        f"{model}: BROKEN at {key}: content does not match its hash (the record was edited)\n"
    )
    missing = _cli("ledger", "show", "no-such-model", "--endpoint", localcloud.url)
    assert (
        missing.returncode == 2
        and missing.stderr == "error: no ledger records for 'no-such-model'\n"
    )


def test_a_missing_record_is_named(ledger: Ledger, model: str) -> None:
    _journey(ledger, model)
    raw = ledger.raw(model)
    del raw[1]
    result = verify_records(model, raw)
    assert result.problem == (
        f"ledger/{model}/00000003.json: sequence 3 where 2 was expected (a record is missing)"
    )
