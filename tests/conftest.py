"""Suite-wide setup: Airflow gets a private home so tests never touch a user's."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from localcloud.server import LocalCloud

ROOT = Path(__file__).resolve().parents[1]

# Set before anything imports airflow: its settings are read once at import.
_airflow_home = Path(tempfile.mkdtemp(prefix="hubspoke-airflow-"))
os.environ.setdefault("AIRFLOW_HOME", str(_airflow_home))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault(
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_airflow_home / 'airflow.db'}"
)


# --- localcloud, shared by every test that asks for it --------------------------------------
# moto keeps its state in module globals, so one bootstrapped localcloud serves the whole run.


@pytest.fixture(scope="session")
def localcloud() -> Iterator[LocalCloud]:
    """localcloud on a free port, bootstrapped from infra/ + config/, enforcement on."""
    from localcloud.bootstrap import bootstrap
    from localcloud.server import LocalCloud

    cloud = LocalCloud(port=0).start()
    try:
        bootstrap(cloud)
        yield cloud
    finally:
        cloud.stop()
