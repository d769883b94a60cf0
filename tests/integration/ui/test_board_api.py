"""The Promotions app over the account connections (pointing at localcloud), and the plugin
that puts it into Airflow's API server and navigation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hubspoke.board import promotion_board
from hubspoke.config import load_config
from localcloud.server import LocalCloud

ROOT = Path(__file__).resolve().parents[3]
CONFIG = load_config()
ACCOUNTS = CONFIG.accounts
MODEL = "breast-cancer"


@pytest.fixture(scope="module")
def auth_manager() -> Any:
    """Airflow's auth manager (the simple one, as `make up` runs it), initialised here as the
    API server does at start."""
    from airflow.api_fastapi.app import init_auth_manager

    return init_auth_manager()


def _token(auth_manager: Any, role: str | None) -> str:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return str(auth_manager.generate_jwt(SimpleAuthManagerUser(username="ada", role=role)))


@pytest.fixture
def client(airflow_as_orchestrator: None, airflow_db: None, auth_manager: Any) -> TestClient:
    """The app as a signed-in viewer (Airflow's lowest role that may read DAG runs)."""
    from hubspoke.ui.app import app

    return TestClient(app, headers={"Authorization": f"Bearer {_token(auth_manager, 'viewer')}"})


def _direct_board(localcloud: LocalCloud) -> dict[str, Any]:
    """The board from sessions issued by localcloud itself, not from the connections."""
    hub = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "direct")
    spokes = {
        env: localcloud.client(
            "sagemaker",
            localcloud.credentials.issue_role_session(ACCOUNTS.deployer_arn(env), "direct"),
        )
        for env in ("staging", "prod")
    }
    alarms = {
        env: localcloud.client(
            "cloudwatch",
            localcloud.credentials.issue_role_session(ACCOUNTS.deployer_arn(env), "direct"),
        )
        for env in ("staging", "prod")
    }
    return promotion_board(
        localcloud.client("sagemaker", hub),
        localcloud.client("s3", hub),
        spokes,
        ACCOUNTS,
        CONFIG.models.models,
        alarms,
    )


def test_api_board_is_the_board_plus_runs(localcloud: LocalCloud, client: TestClient) -> None:
    response = client.get("/api/board")
    assert response.status_code == 200, response.text
    body = response.json()
    runs = {m["name"]: m.pop("runs") for m in body["models"]}
    assert body == _direct_board(localcloud)
    assert list(runs) == [m.name for m in CONFIG.models.models]


@pytest.mark.slow
def test_runs_are_airflows_runs_of_the_models_dags(
    client: TestClient, dags: dict[str, Any]
) -> None:
    """A real (failed) promote run: a package ARN of another model stops at resolve, without
    retries, and appears on the board with its state and conf."""
    other = f"arn:aws:sagemaker:{ACCOUNTS.region}:{ACCOUNTS.account_id('hub')}:model-package/x/1"
    run = dags["promote_breast_cancer"].test(run_conf={"package_arn": other})
    assert str(run.state) == "failed"
    resolve = run.get_task_instance("resolve")
    assert (str(resolve.state), resolve.try_number) == ("failed", 1)

    (model,) = [m for m in client.get("/api/board").json()["models"] if m["name"] == MODEL]
    shown = next(r for r in model["runs"] if r["run_id"] == run.run_id)
    assert shown["dag_id"] == "promote_breast_cancer"
    assert shown["state"] == "failed"
    assert shown["run_type"] == "manual"
    assert shown["conf"]["package_arn"] == other
    started = [r["run_after"] for r in model["runs"]]
    assert started == sorted(started, reverse=True)
    assert {r["dag_id"] for r in model["runs"]} <= {
        f"{kind}_breast_cancer" for kind in ("retrain", "promote", "rollback")
    }


@pytest.mark.parametrize(
    ("headers", "status", "detail"),
    [
        ({}, 401, "Not authenticated"),
        ({"Authorization": "Bearer not-a-token"}, 403, "Invalid JWT token"),
        ({"Cookie": "_token=not-a-token"}, 403, "Invalid JWT token"),
    ],
)
@pytest.mark.parametrize("path", ["/api/board", "/"])
def test_needs_a_signed_in_airflow_user(
    airflow_db: None,
    auth_manager: Any,
    headers: dict[str, str],
    status: int,
    detail: str,
    path: str,
) -> None:
    from hubspoke.ui.app import app

    response = TestClient(app).get(path, headers=headers)
    assert (response.status_code, response.json()) == (status, {"detail": detail})


def test_a_user_without_a_role_may_not_read(airflow_db: None, auth_manager: Any) -> None:
    from hubspoke.ui.app import app

    cookie = {"Cookie": f"_token={_token(auth_manager, None)}"}
    response = TestClient(app).get("/api/board", headers=cookie)
    assert response.status_code == 403, response.text


def test_the_ui_session_cookie_is_enough(
    airflow_as_orchestrator: None, airflow_db: None, auth_manager: Any
) -> None:
    """The page is embedded in the Airflow UI and fetches with the UI's cookie."""
    from hubspoke.ui.app import app

    cookie = {"Cookie": f"_token={_token(auth_manager, 'viewer')}"}
    assert TestClient(app).get("/", headers=cookie).status_code == 200


def test_page_lists_the_models_and_needs_no_external_assets(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for model in CONFIG.models.models:
        assert f'data-model="{model.name}"' in page
        assert f"<h2>{model.name}</h2>" in page
    assert '"api/board"' in page
    assert "required_actions" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<link" not in page


PROBE = """
import json
from fastapi import FastAPI
from starlette.routing import Mount
from airflow import plugins_manager
from airflow.api_fastapi.app import init_plugins
from airflow.api_fastapi.core_api.datamodels.plugins import PluginResponse

info = [i for i in plugins_manager.get_plugin_info() if i["name"] == "hubspoke_ui"]
app = FastAPI()
init_plugins(app)
mounts = {r.path: type(r.app).__module__ for r in app.routes if isinstance(r, Mount)}
views, _ = plugins_manager._get_ui_plugins()
print(json.dumps({
    "info": [PluginResponse.model_validate(i).model_dump(mode="json") for i in info],
    "mounts": mounts,
    "views": [v for v in views if v["name"] == "Promotions"],
    "errors": plugins_manager.get_import_errors(),
}))
"""


def test_airflow_loads_the_plugin_from_the_plugins_folder(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    loaded = json.loads(probe.stdout.strip().splitlines()[-1])
    (plugin,) = loaded["info"]
    assert plugin["source"] == "$PLUGINS_FOLDER/hubspoke_ui_plugin.py"
    assert plugin["fastapi_apps"] == [
        {
            "app": "fastapi.applications.FastAPI",
            "url_prefix": "/hubspoke",
            "name": "hubspoke promotions",
        }
    ]
    assert loaded["mounts"].get("/hubspoke") == "fastapi.applications"
    promotions = {
        "name": "Promotions",
        "href": "/hubspoke/",
        "destination": "nav",
        "url_route": "promotions",
        "nav_top_level": True,
    }
    (view,) = plugin["external_views"]  # as the /api/v2/plugins response serialises it
    assert {k: view[k] for k in promotions} == promotions
    assert loaded["views"] == [promotions]  # what the UI's navigation is built from
    assert "hubspoke_ui_plugin.py" not in " ".join(loaded["errors"])
