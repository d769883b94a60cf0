"""Suite-wide setup: Airflow gets a private home so tests never touch a user's."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
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
# A key of the length the token algorithm wants (as `make up` makes one), not Airflow's short
# generated default.
os.environ.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_hex(32))
# The approval and pipeline waits poll localcloud every 2 s (30 s and 60 s on AWS).
os.environ.setdefault("HUBSPOKE_APPROVAL_POLL_SECONDS", "2")
os.environ.setdefault("HUBSPOKE_PIPELINE_POLL_SECONDS", "2")


# --- localcloud, shared by every test that asks for it --------------------------------------
# moto keeps its state in module globals, so one bootstrapped localcloud serves the whole run.


@pytest.fixture(scope="session")
def localcloud() -> Iterator[LocalCloud]:
    """localcloud on a free port, bootstrapped from infra/ + config/, enforcement on.

    Its control token is in ``$LOCALCLOUD_CONTROL_TOKEN`` while it runs, so the CLI (in this
    process or a subprocess) can take sessions from it as `hubspoke localcloud creds` does."""
    from localcloud.bootstrap import bootstrap
    from localcloud.control import TOKEN_ENV
    from localcloud.server import LocalCloud

    previous = os.environ.get(TOKEN_ENV)
    cloud = LocalCloud(port=0).start()
    os.environ[TOKEN_ENV] = cloud.control_token
    try:
        bootstrap(cloud)
        yield cloud
    finally:
        cloud.stop()
        if previous is None:
            os.environ.pop(TOKEN_ENV, None)
        else:
            os.environ[TOKEN_ENV] = previous


@pytest.fixture
def airflow_as_orchestrator(
    localcloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Airflow's process credentials are the hub orchestrator's (as on MWAA) and the four
    account connections point at localcloud."""
    from hubspoke.config import load_accounts

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # the connections must carry it
    for name, value in localcloud.airflow_env(load_accounts()).items():
        monkeypatch.setenv(name, value)
    yield


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata database (SQLite in the test AIRFLOW_HOME), migrated once."""
    import subprocess
    import sys

    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="session")
def dags() -> dict[str, object]:
    """The DAGs of dags/, parsed by the real DagBag."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}, bag.import_errors
    return dict(bag.dags)


@pytest.fixture(scope="session")
def uv_command() -> list[str]:
    """How to run uv: ``$HUBSPOKE_UV`` (set by the Makefile to the uv it installed, which may be
    ``python3 -m uv``), else ``uv`` on PATH. Missing in CI is a failure, not a skip."""
    import shlex
    import shutil

    configured = os.environ.get("HUBSPOKE_UV")
    if configured:
        return shlex.split(configured)
    found = shutil.which("uv")
    if found:
        return [found]
    if os.environ.get("CI"):
        pytest.fail("uv is neither in $HUBSPOKE_UV nor on PATH; run the suite through make test")
    pytest.skip("uv is neither in $HUBSPOKE_UV nor on PATH (make test sets it)")


@pytest.fixture(scope="session")
def approve(localcloud: LocalCloud) -> Callable[..., None]:
    """``approve(arn, status="Approved", reason="ok")`` as the hub approver role."""
    from hubspoke.config import load_accounts

    approver = localcloud.credentials.issue_role_session(load_accounts().approver_arn, "reviewer")
    sagemaker = localcloud.client("sagemaker", approver)

    def decide(arn: str, status: str = "Approved", reason: str = "ok") -> None:
        sagemaker.update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=reason
        )

    return decide
