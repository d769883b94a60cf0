"""`make up` / `make down` as a user runs them: the real Airflow components and localcloud
come up healthy with the DAGs and the Promotions plugin, and down leaves no process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, token: str | None = None) -> dict:  # type: ignore[type-arg]
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)  # type: ignore[no-any-return]


def _post_json(url: str, payload: dict, headers: dict[str, str]) -> dict:  # type: ignore[type-arg]
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **headers},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)  # type: ignore[no-any-return]


def _running(group: int) -> list[str]:
    """Members of process group `group` that are not zombies, as "pid state command".

    Zombies do not count: where PID 1 does not reap orphans (some container inits), members
    that exited stay in the process table and `killpg(group, 0)` still succeeds."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited while we looked
        command = text[text.index("(") + 1 : text.rindex(")")]
        state, _parent, pgrp = text[text.rindex(")") + 2 :].split()[:3]
        if int(pgrp) == group and state != "Z":
            members.append(f"{stat.parent.name} {state} {command}")
    return members


def test_up_then_down(tmp_path: Path) -> None:
    airflow_port, localcloud_port = _free_port(), _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))},
        "HUBSPOKE_STATE": str(tmp_path / "state"),
        "AIRFLOW_PORT": str(airflow_port),
        "LOCALCLOUD_PORT": str(localcloud_port),
    }
    started = time.monotonic()
    up = subprocess.run(
        ["bash", "scripts/up.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    pids = [int(p.read_text()) for p in (tmp_path / "state" / "pids").glob("*.pid")]
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert time.monotonic() - started < 120
        assert f"Airflow UI:  http://127.0.0.1:{airflow_port}   (login admin / admin)" in up.stdout
        assert len(pids) == 5
        base = f"http://127.0.0.1:{airflow_port}"
        token_request = urllib.request.Request(
            f"{base}/auth/token",
            data=json.dumps({"username": "admin", "password": "admin"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(token_request, timeout=30) as response:
            token = json.load(response)["access_token"]
        deadline = time.monotonic() + 90
        dag_ids: set[str] = set()
        while time.monotonic() < deadline and len(dag_ids) < 4:
            dag_ids = {d["dag_id"] for d in _get(f"{base}/api/v2/dags", token)["dags"]}
            time.sleep(2)
        assert dag_ids == {
            "retrain_breast_cancer",
            "promote_breast_cancer",
            "rollback_breast_cancer",
            "hubspoke_approval_events",
        }
        assert _get(f"{base}/api/v2/importErrors", token)["total_entries"] == 0
        board = _get(f"{base}/hubspoke/api/board", token)
        assert [m["name"] for m in board["models"]] == ["breast-cancer"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            _get(f"{base}/hubspoke/api/board")
        assert refused.value.code == 401
        # localcloud gives keys only for the stack's control token, which `make up` made and
        # never prints; `serve` keeps it in a file only this user can read.
        token_file = tmp_path / "state" / f"localcloud-{localcloud_port}.token"
        assert token_file.stat().st_mode & 0o777 == 0o600
        control = token_file.read_text().strip()
        assert len(control) >= 40
        logs = [log.read_text() for log in (tmp_path / "state" / "logs").glob("*.log")]
        assert all(control not in text for text in [up.stdout, up.stderr, *logs])
        sessions = f"http://127.0.0.1:{localcloud_port}/_localcloud/sessions"
        with pytest.raises(urllib.error.HTTPError) as no_token:
            _post_json(sessions, {"admin": True}, {})
        assert no_token.value.code == 403
        admin = _post_json(sessions, {"admin": True}, {"X-Localcloud-Control-Token": control})
        assert admin["AccessKeyId"]
    finally:
        down = subprocess.run(
            ["bash", "scripts/down.sh"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert down.returncode == 0, down.stdout + down.stderr
    time.sleep(1)
    assert {pid: _running(pid) for pid in pids if _running(pid)} == {}, down.stdout
    assert list((tmp_path / "state" / "pids").glob("*.pid")) == []
    assert list((tmp_path / "state").glob("localcloud-*.token")) == []
