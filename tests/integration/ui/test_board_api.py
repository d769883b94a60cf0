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


@pytest.fixture
def client(airflow_as_orchestrator: None) -> TestClient:
    from hubspoke.ui.app import app

    return TestClient(app)


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
    return promotion_board(
        localcloud.client("sagemaker", hub),
        localcloud.client("s3", hub),
        spokes,
        ACCOUNTS,
        CONFIG.models.models,
    )


def test_api_board_is_the_board(localcloud: LocalCloud, client: TestClient) -> None:
    response = client.get("/api/board")
    assert response.status_code == 200, response.text
    assert response.json() == _direct_board(localcloud)
    names = [m["name"] for m in response.json()["models"]]
    assert names == [m.name for m in CONFIG.models.models]


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
