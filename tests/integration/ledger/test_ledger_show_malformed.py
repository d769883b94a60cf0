"""`hubspoke ledger show` on a ledger with an object that is not a record: the records before
it, then one line naming it and pointing at `ledger verify`, and exit code 1 (no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from hubspoke.config import load_config
from hubspoke.ledger import Ledger
from localcloud.server import LocalCloud

ACCOUNTS = load_config().accounts
HUBSPOKE = str(Path(sys.executable).with_name("hubspoke"))
BUCKET = ACCOUNTS.artifacts_bucket


@pytest.fixture
def model(localcloud: LocalCloud) -> str:
    """A model with three good records (seq 1-3) written as the orchestrator."""
    name = f"ledger-show-{uuid.uuid4().hex[:8]}"
    session = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "ledger-test")
    ledger = Ledger(localcloud.client("s3", session), BUCKET)
    actor = ACCOUNTS.orchestrator_arn
    ledger.append(name, "registered", actor=actor, version=1, details={"roc_auc": 0.99})
    ledger.append(name, "approved", actor=ACCOUNTS.approver_arn, version=1)
    ledger.append(name, "deployed", actor=actor, version=1, environment="staging")
    return name


def _put(localcloud: LocalCloud, key: str, body: bytes) -> None:
    hub_root = localcloud.client("s3", localcloud.root_session(ACCOUNTS.account_id("hub")))
    hub_root.put_object(Bucket=BUCKET, Key=key, Body=body)


def _show(localcloud: LocalCloud, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HUBSPOKE, "ledger", "show", *args, "--endpoint", localcloud.url],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _events(stdout: str) -> list[str]:
    """The event column of the record lines (detail lines are indented)."""
    return [line.split()[3] for line in stdout.splitlines() if not line.startswith(" " * 6)]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "is not valid JSON"),
        (
            json.dumps({"seq": 2, "model": "x", "event": "deployed", "surprise": 1}).encode(),
            "is not a ledger record (unknown fields ['surprise'])",
        ),
        (
            json.dumps({"seq": 2, "model": "x"}).encode(),
            "is not a ledger record (",
        ),
    ],
    ids=["invalid-json", "unknown-field", "missing-fields"],
)
def test_show_stops_at_a_malformed_record_and_points_at_verify(
    localcloud: LocalCloud, model: str, body: bytes, problem: str
) -> None:
    key = f"ledger/{model}/00000002.json"
    _put(localcloud, key, body)

    shown = _show(localcloud, model)

    assert shown.returncode == 1, shown
    assert _events(shown.stdout) == ["registered"], shown.stdout
    assert "roc_auc: 0.99" in shown.stdout
    assert "Traceback" not in shown.stderr, shown.stderr
    (line,) = shown.stderr.splitlines()
    assert line.startswith(f"error: s3://{BUCKET}/{key} {problem}"), line
    assert line.endswith(f"Run `hubspoke ledger verify {model}`."), line
    # verify names the same object.
    verified = subprocess.run(
        [HUBSPOKE, "ledger", "verify", model, "--endpoint", localcloud.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 1
    assert verified.stdout.startswith(f"{model}: BROKEN at {key}: "), verified.stdout


def test_show_with_a_version_and_as_json_also_stop_at_the_malformed_record(
    localcloud: LocalCloud, model: str
) -> None:
    key = f"ledger/{model}/00000003.json"
    _put(localcloud, key, b"[]")

    by_version = _show(localcloud, model, "--version", "1")
    assert by_version.returncode == 1, by_version
    assert _events(by_version.stdout) == ["registered", "approved"], by_version.stdout
    assert by_version.stderr.startswith(f"error: s3://{BUCKET}/{key} is not a ledger record")

    as_json = _show(localcloud, model, "--json")
    assert as_json.returncode == 1, as_json
    assert [r["event"] for r in json.loads(as_json.stdout)] == ["registered", "approved"]
    assert len(as_json.stderr.splitlines()) == 1 and "Traceback" not in as_json.stderr


def test_a_malformed_first_record_shows_nothing_but_the_problem(
    localcloud: LocalCloud, model: str
) -> None:
    key = f"ledger/{model}/00000001.json"
    _put(localcloud, key, b"")

    shown = _show(localcloud, model)

    assert shown.returncode == 1, shown
    assert shown.stdout == ""
    assert shown.stderr == (
        f"error: s3://{BUCKET}/{key} is not valid JSON; records from there on are not shown. "
        f"Run `hubspoke ledger verify {model}`.\n"
    )
