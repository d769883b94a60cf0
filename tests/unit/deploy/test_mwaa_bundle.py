"""mwaa/build.py: the plugins.zip and DAG bundle MWAA is given, built from this repository."""

from __future__ import annotations

import importlib.util
import re
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]
REVISION = "0123456789abcdef0123456789abcdef01234567"


def load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mwaa_build", ROOT / "mwaa" / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mwaa") / "dist"
    return load_build().build(ROOT, out, REVISION)


def locked_versions() -> dict[str, str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    return {package["name"]: package["version"] for package in lock["package"]}


def test_plugins_zip_holds_the_hubspoke_package(bundle: Path) -> None:
    with zipfile.ZipFile(bundle / "plugins.zip") as archive:
        names = set(archive.namelist())
    expected = {
        path.relative_to(ROOT / "plugins").as_posix()
        for path in (ROOT / "plugins" / "hubspoke").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert expected <= names
    assert {"hubspoke/__init__.py", "hubspoke/aws/connections.py", "hubspoke/cli/__init__.py"} <= (
        names
    )
    top_level_plugins = {path.name for path in (ROOT / "plugins").glob("*.py")}
    assert top_level_plugins <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.split("/")[0] in {"dags", "pipelines", "config", "tests"}]


def test_airflow_loads_only_the_plugin_modules_of_the_zip(bundle: Path, tmp_path: Path) -> None:
    """Airflow runs every .py of the plugins folder that .airflowignore leaves: only the
    top-level plugin modules, never the package's own files."""
    from airflow._shared.module_loading import find_path_from_directory

    with zipfile.ZipFile(bundle / "plugins.zip") as archive:
        archive.extractall(tmp_path)
    loaded = {
        Path(path).relative_to(tmp_path).as_posix()
        for path in find_path_from_directory(str(tmp_path), ".airflowignore", "glob")
        if path.endswith(".py")
    }
    assert loaded == {path.name for path in (ROOT / "plugins").glob("*.py")}


def test_dags_bundle_holds_the_dag_file_pipelines_and_config(bundle: Path) -> None:
    dags = bundle / "dags"
    assert (dags / "hubspoke_dags.py").read_bytes() == (ROOT / "dags/hubspoke_dags.py").read_bytes()
    for name in ("accounts.yaml", "models.yaml"):
        assert (dags / "config" / name).read_bytes() == (ROOT / "config" / name).read_bytes()
    assert (dags / "pipelines" / "breast_cancer" / "pipeline.py").is_file()
    assert not list(dags.rglob("__pycache__"))
    ignored = (dags / ".airflowignore").read_text(encoding="utf-8").split()
    assert {"pipelines/", "config/"} <= set(ignored)


def test_the_bundled_config_loads_with_the_startup_script_settings(
    bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hubspoke.config import load_accounts, load_models

    startup = (bundle / "startup.sh").read_text(encoding="utf-8")
    assert f'export HUBSPOKE_GIT_REVISION="{REVISION}"' in startup
    assert 'export HUBSPOKE_CONFIG_DIR="${dags_bundle}/config"' in startup
    dags = bundle / "dags"
    accounts = load_accounts(dags / "config" / "accounts.yaml")
    models = load_models(dags / "config" / "models.yaml", root=dags)
    assert accounts.orchestrator_arn.endswith(":role/hubspoke-orchestrator")
    assert models.models


# MWAA brings Airflow; moto and cbor2 serve localcloud only.
NOT_ON_MWAA = {"apache-airflow", "moto", "cbor2"}


def test_requirements_pin_the_locked_versions(bundle: Path) -> None:
    versions = locked_versions()
    lines = [
        line.strip()
        for line in (bundle / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == '--constraint "/usr/local/airflow/dags/constraints.txt"'
    pins = dict(
        re.fullmatch(r"([a-z0-9-]+)(?:\[[a-z0-9,-]+\])?==(\S+)", line).groups()  # type: ignore[union-attr]
        for line in lines[1:]
    )
    assert not set(pins) & NOT_ON_MWAA
    assert {name: versions[name] for name in pins} == pins
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    direct = {re.split(r"[\[=<>]", dep, maxsplit=1)[0] for dep in project["dependencies"]}
    assert set(pins) == direct - NOT_ON_MWAA


def test_constraints_are_the_locked_runtime_closure(bundle: Path) -> None:
    versions = locked_versions()
    constraints = dict(
        line.split("==", 1)
        for line in (bundle / "dags" / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    assert constraints["apache-airflow"] == "3.3.2"
    assert constraints["sagemaker"] == versions["sagemaker"]
    assert all(versions[name] == version for name, version in constraints.items())
    assert "hubspoke" not in constraints and "pytest" not in constraints  # no project, no dev


def test_the_bundles_config_finds_the_bundles_pipelines(bundle: Path) -> None:
    from hubspoke.config import load_models, models_root

    dags = next(p for p in bundle.rglob("hubspoke_dags.py")).parent
    assert models_root(dags / "config") == dags.resolve()
    assert [m.name for m in load_models(dags / "config" / "models.yaml").models] == [
        "breast-cancer"
    ]
