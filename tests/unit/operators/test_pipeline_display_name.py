"""Pipeline execution display names are valid for SageMaker whatever the run ID, and the waits
tell a passing AWS error from one that will not pass."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import botocore
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from hubspoke.operators.pipeline import execution_display_name
from hubspoke.triggers.polling import backoff, env_number, retryable


def _sagemaker_shape(name: str) -> dict[str, object]:
    models = Path(botocore.__file__).parent / "data" / "sagemaker"
    (path,) = models.glob("*/service-2.json.gz")
    with gzip.open(path) as model:
        return dict(json.load(model)["shapes"][name])


SHAPE = _sagemaker_shape("PipelineExecutionName")


def _valid_on_aws(name: str) -> bool:
    """SageMaker's own constraint on PipelineExecutionDisplayName (from the API model)."""
    pattern = str(SHAPE["pattern"])
    return (
        int(str(SHAPE["min"])) <= len(name) <= int(str(SHAPE["max"]))
        and re.fullmatch(pattern, name) is not None
    )


RUN_IDS = [
    "manual__2026-12-05T02:17:09.884829+00:00",
    "scheduled__2026-12-06T03:00:00+00:00",
    "backfill__2026-11-01T03:00:00+00:00",
    "asset_triggered__2026-12-05T02:17:09+00:00_Xy7Qa2Lm",
    "my run: retrain after the data fix (ticket #42)",
    "résumé run — ünïcode",
    "___",
    "x" * 300,
    "a_" * 120,
]


@pytest.mark.parametrize("run_id", RUN_IDS)
def test_every_run_id_gives_a_name_sagemaker_accepts(run_id: str) -> None:
    name = execution_display_name(f"hubspoke-{run_id}")
    assert _valid_on_aws(name), name
    assert execution_display_name(name) == name  # a valid name is kept as it is


def test_the_name_keeps_the_run_id_readable() -> None:
    name = execution_display_name("hubspoke-manual__2026-12-05T02:17:09.884829+00:00")
    assert name.startswith("hubspoke-manual-2026-12-05T02-17-09-884829-00-00-")
    assert re.fullmatch(r"[0-9a-f]{8}", name.rsplit("-", 1)[1])


def test_names_are_stable_and_distinct() -> None:
    names = {execution_display_name(f"hubspoke-{run_id}") for run_id in RUN_IDS}
    assert len(names) == len(RUN_IDS)
    # Run IDs that differ only in characters a display name cannot hold stay apart.
    assert execution_display_name("run_a") != execution_display_name("run.a")
    assert execution_display_name("x" * 200 + "1") != execution_display_name("x" * 200 + "2")
    assert execution_display_name("run_a") == execution_display_name("run_a")


def _client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "DescribeModelPackage",
    )


@pytest.mark.parametrize(
    "error",
    [
        _client_error("ThrottlingException"),
        _client_error("Throttling"),
        _client_error("ExpiredTokenException"),
        _client_error("ExpiredToken", 403),
        _client_error("SomethingNew", 503),
        EndpointConnectionError(endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com"),
        ConnectionClosedError(endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com"),
        ConnectionResetError("reset by peer"),
    ],
)
def test_passing_errors_are_retried(error: BaseException) -> None:
    assert retryable(error)


@pytest.mark.parametrize(
    "error",
    [
        _client_error("AccessDeniedException"),
        _client_error("ValidationException"),
        _client_error("ResourceNotFound"),
        ValueError("a bug"),
    ],
)
def test_other_errors_are_not(error: BaseException) -> None:
    assert not retryable(error)


def test_backoff_doubles_up_to_its_cap() -> None:
    assert 0.5 <= backoff(1, 2.0) <= 2.0
    assert 4.0 <= backoff(3, 2.0) <= 8.0
    assert 150.0 <= backoff(30, 2.0) <= 300.0


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUBSPOKE_TEST_SECONDS", raising=False)
    assert env_number("HUBSPOKE_TEST_SECONDS", 30.0, "seconds") == 30.0
    monkeypatch.setenv("HUBSPOKE_TEST_SECONDS", "2.5")
    assert env_number("HUBSPOKE_TEST_SECONDS", 30.0, "seconds") == 2.5
    for bad in ("soon", "0", "-1", "nan"):
        monkeypatch.setenv("HUBSPOKE_TEST_SECONDS", bad)
        with pytest.raises(ValueError, match="HUBSPOKE_TEST_SECONDS must be a positive number"):
            env_number("HUBSPOKE_TEST_SECONDS", 30.0, "seconds")
