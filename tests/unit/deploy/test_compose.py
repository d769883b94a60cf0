"""docker-compose.yaml and docker/: valid Compose, the right Airflow, the right connections.

The file is validated against the Compose Specification's JSON schema (vendored next to this
test, see README.md here); nothing here starts a container.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hubspoke.aws.connections import account_connections, connection_env
from hubspoke.config import load_accounts

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
REQUIREMENTS = ROOT / "docker" / "requirements.txt"
SCHEMA = Path(__file__).with_name("compose-spec.json")
ENDPOINT = "http://localcloud:4599"
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
}
# The command that wrote docker/requirements.txt (its header says the same).
EXPORT = ["export", "--locked", "--no-dev", "--no-emit-project", "--no-header", "--quiet"]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def airflow_pin() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = [d for d in project["dependencies"] if re.match(r"apache-airflow==", d)]
    assert len(pins) == 1, pins
    return pins[0].split("==", 1)[1]


def test_compose_file_is_valid_against_the_compose_specification(
    compose: dict[str, Any],
) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert "draft-07" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_rejects_what_compose_rejects(compose: dict[str, Any]) -> None:
    """The vendored schema is the strict one: an unknown service key is an error."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = {**compose, "services": {**compose["services"], "bad": {"imagee": "x"}}}
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_every_component_is_present(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert AIRFLOW_SERVICES | {"postgres", "localcloud"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES - {"airflow-init"}}
    assert commands == {
        "airflow-apiserver": ["api-server"],
        "airflow-scheduler": ["scheduler"],
        "airflow-dag-processor": ["dag-processor"],
        "airflow-triggerer": ["triggerer"],
    }
    assert "8080:8080" in services["airflow-apiserver"]["ports"]
    # localcloud's credentials are published on the host's loopback only.
    assert services["localcloud"]["ports"] == ["127.0.0.1:4599:4599"]
    assert services["localcloud"]["command"] == [
        "hubspoke", "localcloud", "serve", "--host", "0.0.0.0", "--port", "4599",
    ]  # fmt: skip
    for name, service in services.items():
        assert "healthcheck" in service or name == "airflow-init", f"{name} has no healthcheck"


def test_airflow_runs_locally_with_a_small_local_executor(compose: dict[str, Any]) -> None:
    for name in AIRFLOW_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        assert 1 <= int(env["AIRFLOW__CORE__PARALLELISM"]) <= 8, name


def test_the_image_is_the_airflow_of_pyproject(compose: dict[str, Any]) -> None:
    version = airflow_pin()
    from_lines = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert from_lines == [f"apache/airflow:{version}-python3.11"]
    for name in AIRFLOW_SERVICES | {"localcloud"}:
        service = compose["services"][name]
        assert service["build"]["dockerfile"] == "docker/Dockerfile", name
        assert service["image"].endswith(f":{version}-python3.11"), name


def test_the_connections_are_those_of_connection_env(compose: dict[str, Any]) -> None:
    expected = connection_env(account_connections(load_accounts(), "localcloud", ENDPOINT))
    assert set(expected) == {
        "AIRFLOW_CONN_AWS_HUB",
        "AIRFLOW_CONN_AWS_DEV",
        "AIRFLOW_CONN_AWS_STAGING",
        "AIRFLOW_CONN_AWS_PROD",
    }
    for name in AIRFLOW_SERVICES:
        env = compose["services"][name]["environment"]
        actual = {key: value for key, value in env.items() if key.startswith("AIRFLOW_CONN_")}
        assert actual == expected, name


def test_airflow_runs_as_the_hub_orchestrator_from_localcloud(compose: dict[str, Any]) -> None:
    accounts = load_accounts()
    entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text(encoding="utf-8")
    assert "/_localcloud/health" in entrypoint
    assert "hubspoke localcloud creds" in entrypoint
    assert "exec /entrypoint" in entrypoint
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        service = compose["services"][name]
        assert service["entrypoint"][-1] == "/usr/local/bin/hubspoke-entrypoint", name
        assert service["environment"]["HUBSPOKE_ORCHESTRATOR_ARN"] == accounts.orchestrator_arn
        assert service["environment"]["HUBSPOKE_LOCALCLOUD_URL"] == ENDPOINT
        assert service["depends_on"]["localcloud"]["condition"] == "service_healthy", name


def test_localcloud_and_airflow_share_a_required_control_token(compose: dict[str, Any]) -> None:
    # Compose refuses to start without it (`${VAR:?message}`), as for AIRFLOW_JWT_SECRET.
    required = re.compile(r"^\$\{LOCALCLOUD_CONTROL_TOKEN:\?[^}]+\}$")
    for name in AIRFLOW_SERVICES | {"localcloud"}:
        env = compose["services"][name]["environment"]
        assert required.match(env["LOCALCLOUD_CONTROL_TOKEN"]), name
    jwt = compose["services"]["airflow-apiserver"]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert jwt.startswith("${AIRFLOW_JWT_SECRET:?")


def test_docker_requirements_match_the_lock(uv_command: list[str]) -> None:
    exported = subprocess.run(
        [*uv_command, *EXPORT], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    ).stdout
    committed = REQUIREMENTS.read_text(encoding="utf-8")
    body = "".join(line for line in committed.splitlines(keepends=True) if line[:1] != "#")
    assert (
        body.strip()
        == "".join(line for line in exported.splitlines(keepends=True) if line[:1] != "#").strip()
    ), (
        "docker/requirements.txt is stale; regenerate it with: "
        "uv export --locked --no-dev --no-emit-project -o docker/requirements.txt"
    )
