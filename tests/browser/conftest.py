"""The browser suite: Debian's Chromium driven by Playwright against `make up`'s stack."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("HUBSPOKE_REQUIRE_BROWSER"):  # set by .ci/run: CI must run them
        raise pytest.UsageError(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    reason = f"no Chromium at {CHROMIUM} (apt-get install chromium); browser tests skipped"
    print(f"\n{reason}")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def stack_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`make up` on free ports; yields the Airflow and localcloud URLs; `make down` afterwards."""
    state = tmp_path_factory.mktemp("stack")
    airflow_port, localcloud_port = _free_port(), _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))},
        "HUBSPOKE_STATE": str(state),
        "AIRFLOW_PORT": str(airflow_port),
        "LOCALCLOUD_PORT": str(localcloud_port),
    }
    up = subprocess.run(
        ["bash", "scripts/up.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield {
            "airflow": f"http://127.0.0.1:{airflow_port}",
            "localcloud": f"http://127.0.0.1:{localcloud_port}",
            # Where `hubspoke localcloud serve` keeps its control token ($HUBSPOKE_STATE).
            "state": str(state),
        }
    finally:
        subprocess.run(
            ["bash", "scripts/down.sh"], cwd=ROOT, env=env, capture_output=True, timeout=120
        )


@pytest.fixture(scope="session")
def stack(stack_urls: dict[str, str]) -> str:
    """The Airflow base URL of the running stack."""
    return stack_urls["airflow"]


@pytest.fixture(scope="session")
def localcloud_url(stack_urls: dict[str, str]) -> str:
    return stack_urls["localcloud"]


@pytest.fixture(scope="session")
def localcloud_cli_env(stack_urls: dict[str, str]) -> dict[str, str]:
    """The environment in which `hubspoke localcloud creds` finds the stack's control token
    as a user's shell would: in the file `serve` wrote, not in the environment."""
    env = {k: v for k, v in os.environ.items() if k != "LOCALCLOUD_CONTROL_TOKEN"}
    return {**env, "HUBSPOKE_STATE": stack_urls["state"]}


@pytest.fixture
def page(stack: str, tmp_path: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            yield page
        finally:
            browser.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: $HUBSPOKE_SCREENSHOTS if set (e.g. docs/), else a temp dir."""
    target = Path(os.environ.get("HUBSPOKE_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target
