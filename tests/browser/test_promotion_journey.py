"""A release manager's promotion in the Airflow UI of `make up`, in a real headless Chromium.

Before the browser: data lands in the dev bucket, the retrain DAG's scheduled run trains and
registers a version in the hub, and an approver approves it in the registry (`hubspoke
approve`), as people and schedules do. Then, in the browser: trigger `promote_<model>` through
the trigger form with the version as a Param, answer the production gate on Required actions,
watch the run succeed, and find the version live in prod on the Promotions page.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from hubspoke.config import load_config

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config()
ACCOUNTS = CONFIG.accounts
MODEL = CONFIG.models.get("breast-cancer")
PROMOTE = f"promote_{MODEL.dag_suffix}"
RETRAIN = f"retrain_{MODEL.dag_suffix}"


class Airflow:
    """The stack's REST API as the admin (for what happens before and around the browser)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.token = self.call("POST", "/auth/token", {"username": "admin", "password": "admin"})[
            "access_token"
        ]

    def call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        if getattr(self, "token", None):
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"])

    def wait_for_run(self, dag_id: str, run_id: str, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            state = str(self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])
            if state in {"success", "failed"}:
                return state
            time.sleep(3)
        raise AssertionError(f"{dag_id} run {run_id} not finished after {seconds:.0f} s")


def _hubspoke(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "hubspoke"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _upload_dev_data(endpoint: str, env: dict[str, str]) -> None:
    """The data set into the dev bucket, with a dev-account role's credentials."""
    from pipelines.breast_cancer.dataset import export_dataset

    creds = json.loads(
        _hubspoke(
            "localcloud",
            "creds",
            ACCOUNTS.deployer_arn("dev"),
            "--endpoint",
            endpoint,
            "--json",
            env=env,
        )
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=creds["Region"],
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    path = export_dataset(Path(tempfile.mkdtemp()) / "data.csv")
    s3.upload_file(str(path), ACCOUNTS.dev_bucket, f"data/{MODEL.name}/data.csv")


@pytest.fixture(scope="module")
def approved_version(stack: str, localcloud_url: str, localcloud_cli_env: dict[str, str]) -> int:
    """A version trained by the retrain DAG's scheduled run and approved in the registry."""
    airflow = Airflow(stack)
    deadline = time.monotonic() + 90
    while {d["dag_id"] for d in airflow.call("GET", "/api/v2/dags")["dags"]} < {RETRAIN, PROMOTE}:
        assert time.monotonic() < deadline, "the DAGs never appeared"
        time.sleep(2)
    _upload_dev_data(localcloud_url, localcloud_cli_env)
    for dag_id in (RETRAIN, PROMOTE):
        airflow.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    # Unpausing starts the latest scheduled interval (catchup is off): one retraining.
    deadline = time.monotonic() + 60
    while not (runs := airflow.runs(RETRAIN)):
        assert time.monotonic() < deadline, f"{RETRAIN} started no run after unpausing"
        time.sleep(2)
    run_id = runs[0]["dag_run_id"]
    assert airflow.wait_for_run(RETRAIN, run_id, 300) == "success"
    registered = airflow.call(
        "GET",
        f"/api/v2/dags/{RETRAIN}/dagRuns/{run_id}/taskInstances/register/xcomEntries/return_value",
    )["value"]
    _hubspoke(
        "approve",
        registered["package_arn"],
        "--reason",
        "metrics reviewed",
        "--endpoint",
        localcloud_url,
        env=localcloud_cli_env,
    )
    return int(registered["version"])


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/", wait_until="networkidle")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin")
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/", timeout=30_000)


def _reload_until(page: Any, locator: Any, seconds: float) -> None:
    """Reload until ``locator`` shows (the UI polls, but a reload makes the wait certain)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + seconds
    while True:
        try:
            locator.wait_for(timeout=5_000)
            return
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
            page.reload(wait_until="networkidle")


def test_promote_through_the_ui(
    page: Any, stack: str, approved_version: int, screenshots: Path
) -> None:
    version = approved_version
    run_id = f"ui-promote-v{version}"
    _sign_in(page, stack)

    # The trigger form, with the version as a Param.
    page.goto(f"{stack}/dags/{PROMOTE}", wait_until="networkidle")
    page.get_by_role("button", name="Trigger Dag").click()
    form = page.get_by_role("dialog")
    form.get_by_text("Run Parameters").wait_for()
    form.get_by_role("spinbutton").fill(str(version))
    form.get_by_text("Advanced Options").click()
    form.locator("input[name=dagRunId]").fill(run_id)
    page.screenshot(path=str(screenshots / "trigger-form.png"))
    form.get_by_test_id("trigger-dag-submit").click()
    page.wait_for_url(f"{stack}/dags/{PROMOTE}/runs/{run_id}", timeout=30_000)

    # Staging deploys and validates; then the production gate waits for a person.
    page.goto(f"{stack}/dags/{PROMOTE}/required_actions", wait_until="networkidle")
    question = page.get_by_text(f"Promote {MODEL.name} version {version} to production?")
    _reload_until(page, question, 240)
    staged = f"Staging endpoint {MODEL.name}-staging is serving version {version}"
    page.get_by_text(staged).wait_for()
    page.screenshot(path=str(screenshots / "required-actions.png"))
    page.get_by_role("button", name="Approve", exact=True).click()

    # The run goes on to prod and succeeds.
    page.goto(f"{stack}/dags/{PROMOTE}/runs/{run_id}", wait_until="networkidle")
    badge = page.locator(f"h2:text-is('{run_id}') ~ [data-testid=state-badge]")
    _reload_until(page, badge.filter(has_text="Success"), 240)
    page.screenshot(path=str(screenshots / "promote-run.png"))

    # The Promotions page (Airflow's nav) shows the version live in prod.
    page.get_by_text("Promotions", exact=True).first.click()
    board = page.frame_locator("iframe").first
    live = board.locator(f"section[data-model='{MODEL.name}'] table").first
    prod = live.locator("tr:has(td:first-child:text-is('prod'))")
    prod.filter(has_text=f"v{version}").wait_for(timeout=60_000)
    assert "InService" in prod.inner_text()
    board.get_by_text("promoted prod").first.wait_for()
    # Recent DAG runs: this run, by whom, and a link out of the frame to its page in Airflow.
    link = board.get_by_role("link", name=run_id, exact=True)
    row = board.locator("tr", has=link)
    assert "success" in row.inner_text() and "admin" in row.inner_text(), row.inner_text()
    page.set_viewport_size({"width": 1400, "height": 1150})  # the whole board in one picture
    page.wait_for_timeout(500)
    page.screenshot(path=str(screenshots / "promotions.png"))
    link.click()
    page.wait_for_url(f"{stack}/dags/{PROMOTE}/runs/{run_id}", timeout=30_000)
    badge.filter(has_text="Success").wait_for(timeout=30_000)  # the UI's run page, not a frame
    assert page.frame_locator("iframe").locator("body").count() == 0
