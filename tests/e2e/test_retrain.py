"""retrain_<model> end to end through dag.test(): real training in dev on localcloud with
enforcement on, registration in the hub, the ledger; one pipeline execution per run (a retry
waits on it, a failed one is final, the wait is capped)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hubspoke.config import load_config
from hubspoke.ledger import Ledger
from hubspoke.operators.pipeline import (
    PipelineFailedError,
    PipelineTimeoutError,
    execution_description,
    execution_display_name,
)
from localcloud.server import LocalCloud

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config()
ACCOUNTS = CONFIG.accounts
MODEL = CONFIG.models.get("breast-cancer")
DATA_KEY = "data/breast-cancer/data.csv"
DAG_ID = "retrain_breast_cancer"
# What SageMaker accepts as PipelineExecutionDisplayName (botocore's API model).
DISPLAY_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}"

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("airflow_db", "airflow_as_orchestrator")]


@pytest.fixture(scope="module")
def dev_data(localcloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The data set in dev's bucket, where the pipeline reads it by default."""
    from pipelines.breast_cancer.dataset import export_dataset

    path = export_dataset(tmp_path_factory.mktemp("data") / "data.csv")
    root = localcloud.client("s3", localcloud.root_session(ACCOUNTS.account_id("dev")))
    root.upload_file(str(path), ACCOUNTS.dev_bucket, DATA_KEY)
    return f"s3://{ACCOUNTS.dev_bucket}/{DATA_KEY}"


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _dev_sagemaker(localcloud: LocalCloud) -> Any:
    return localcloud.client("sagemaker", localcloud.root_session(ACCOUNTS.account_id("dev")))


def _executions_of(localcloud: LocalCloud, run_id: str) -> list[dict[str, Any]]:
    """The executions of the breast-cancer pipeline started for the DAG run ``run_id``."""
    name = execution_display_name(f"hubspoke-{run_id}")
    pages = (
        _dev_sagemaker(localcloud)
        .get_paginator("list_pipeline_executions")
        .paginate(PipelineName=MODEL.name)
    )
    return [
        summary
        for page in pages
        for summary in page["PipelineExecutionSummaries"]
        if summary["PipelineExecutionDisplayName"] == name
    ]


def _raised(output: str, error: type[BaseException]) -> list[str]:
    """The messages of ``error`` in the task logs dag.test() printed (one per failed try)."""
    prefix = f"{error.__module__}.{error.__qualname__}: "
    return [line[len(prefix) :] for line in output.splitlines() if line.startswith(prefix)]


def test_retrain_registers_a_pending_version(
    localcloud: LocalCloud, dev_data: str, dags: dict[str, Any]
) -> None:
    run = dags[DAG_ID].test(run_conf={"data_uri": dev_data, "reason": "e2e"})
    assert str(run.state) == "success", _states(run)
    (execution,) = _executions_of(localcloud, run.run_id)
    assert re.fullmatch(DISPLAY_NAME, execution["PipelineExecutionDisplayName"])
    assert execution["PipelineExecutionDescription"] == execution_description(DAG_ID, run.run_id)
    hub = localcloud.root_session(ACCOUNTS.account_id("hub"))
    sagemaker = localcloud.client("sagemaker", hub)
    packages = sagemaker.list_model_packages(
        ModelPackageGroupName="breast-cancer", SortOrder="Descending"
    )["ModelPackageSummaryList"]
    newest = sagemaker.describe_model_package(ModelPackageName=packages[0]["ModelPackageArn"])
    assert newest["ModelApprovalStatus"] == "PendingManualApproval"
    lineage = newest["CustomerMetadataProperties"]
    assert float(lineage["hubspoke:metric:roc_auc"]) > 0.98
    assert lineage["hubspoke:data-uri"] == dev_data
    assert newest["MetadataProperties"]["GeneratedBy"] == execution["PipelineExecutionArn"]
    model_uri = newest["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert model_uri.startswith(f"s3://{ACCOUNTS.artifacts_bucket}/models/breast-cancer/")
    ledger = Ledger(localcloud.client("s3", hub), ACCOUNTS.artifacts_bucket)
    registered = ledger.records("breast-cancer", newest["ModelPackageVersion"])
    assert [r.event for r in registered] == ["registered"]


def test_metric_below_the_gate_never_registers(
    localcloud: LocalCloud, dev_data: str, dags: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """The pipeline's metric condition fails the execution: the run fails at once, naming the
    step and the reason, with one execution (no retry trains again) and no version."""
    sagemaker = localcloud.client("sagemaker", localcloud.root_session(ACCOUNTS.account_id("hub")))
    before = len(
        sagemaker.list_model_packages(ModelPackageGroupName="breast-cancer")[
            "ModelPackageSummaryList"
        ]
    )
    # One shallow tree on a fifth of the data cannot reach the gate.
    run = dags[DAG_ID].test(
        run_conf={
            "data_uri": dev_data,
            "hyperparameters": {"n_estimators": 1, "max_depth": 1, "learning_rate": 0.01},
        }
    )
    states = _states(run)
    assert str(run.state) == "failed"
    assert states["train"] == "failed", states
    assert "register" in states and states["register"] != "success"
    assert run.get_task_instance("train").try_number == 1  # not retried
    (execution,) = _executions_of(localcloud, run.run_id)
    assert execution["PipelineExecutionStatus"] == "Failed"
    (message,) = _raised(capsys.readouterr().out, PipelineFailedError)
    assert message.startswith(
        f"Pipeline execution {execution['PipelineExecutionArn']} ended Failed at step "
        "MetricBelowThreshold: ROC AUC "
    )
    assert "is below the threshold 0.95. This run does not train again" in message
    assert message.endswith(f"then trigger {DAG_ID} again.")
    after = len(
        sagemaker.list_model_packages(ModelPackageGroupName="breast-cancer")[
            "ModelPackageSummaryList"
        ]
    )
    assert after == before


def _upserted_pipeline() -> None:
    """The breast-cancer pipeline in dev, as the run's prepare task leaves it."""
    from hubspoke.aws.sessions import session_for
    from hubspoke.training import build_definition, spoke_key_arn, upsert_pipeline

    session = session_for("aws_dev")
    definition = build_definition(MODEL, ACCOUNTS, session, spoke_key_arn(session.client("kms")))
    upsert_pipeline(
        session.client("sagemaker"), MODEL.name, definition, ACCOUNTS.execution_role_arn("dev")
    )


def test_a_retry_waits_on_the_runs_execution_instead_of_training_again(
    localcloud: LocalCloud, dev_data: str, dags: dict[str, Any]
) -> None:
    """A try that finds its run's execution already started (as a retry after a lost worker or
    a failed wait does) waits on it: no second training, and its result is registered."""
    from hubspoke.aws.sessions import session_for
    from hubspoke.training import execution_parameters

    _upserted_pipeline()
    when = datetime.now(UTC)
    run_id = f"manual__{when.isoformat()}"
    parameters = execution_parameters(MODEL, dev_data, {})
    earlier_try = (
        session_for("aws_dev")
        .client("sagemaker")
        .start_pipeline_execution(
            PipelineName=MODEL.name,
            PipelineExecutionDisplayName=execution_display_name(f"hubspoke-{run_id}"),
            PipelineExecutionDescription=execution_description(DAG_ID, run_id),
            PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
        )["PipelineExecutionArn"]
    )

    run = dags[DAG_ID].test(
        run_after=when, logical_date=when, run_conf={"data_uri": dev_data, "reason": "resumed"}
    )
    assert run.run_id == run_id
    assert str(run.state) == "success", _states(run)
    assert [e["PipelineExecutionArn"] for e in _executions_of(localcloud, run_id)] == [earlier_try]
    registered = run.get_task_instance("register").xcom_pull(task_ids="register")
    hub = localcloud.client("sagemaker", localcloud.root_session(ACCOUNTS.account_id("hub")))
    described = hub.describe_model_package(ModelPackageName=registered["package_arn"])
    assert described["MetadataProperties"]["GeneratedBy"] == earlier_try


def test_an_execution_outlasting_the_wait_is_stopped_and_fails_the_run(
    localcloud: LocalCloud,
    dev_data: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("HUBSPOKE_PIPELINE_TIMEOUT_HOURS", "0.001")  # 3.6 s: less than a training
    monkeypatch.setenv("HUBSPOKE_PIPELINE_POLL_SECONDS", "0.5")
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}, bag.import_errors
    dag = bag.dags[DAG_ID]
    assert dag.get_task("train").wait_timeout == timedelta(hours=0.001)

    started = time.monotonic()
    run = dag.test(run_conf={"data_uri": dev_data, "reason": "too slow"})
    assert time.monotonic() - started < 120
    states = _states(run)
    assert str(run.state) == "failed" and states["train"] == "failed", states
    assert run.get_task_instance("train").try_number == 1
    (execution,) = _executions_of(localcloud, run.run_id)
    arn = execution["PipelineExecutionArn"]
    deadline = time.monotonic() + 30
    while (
        status := _dev_sagemaker(localcloud).describe_pipeline_execution(PipelineExecutionArn=arn)[
            "PipelineExecutionStatus"
        ]
    ) == "Stopping":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert status == "Stopped"
    (message,) = _raised(capsys.readouterr().out, PipelineTimeoutError)
    assert message.startswith(f"Pipeline execution {arn} was still running 3.6 s after it")
    assert "raise HUBSPOKE_PIPELINE_TIMEOUT_HOURS" in message
