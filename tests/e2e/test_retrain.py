"""retrain_<model> end to end through dag.test(): real training in dev on localcloud with
enforcement on, registration in the hub, the ledger."""

from __future__ import annotations

from typing import Any

import pytest

from hubspoke.config import load_config
from hubspoke.ledger import Ledger
from localcloud.server import LocalCloud

CONFIG = load_config()
ACCOUNTS = CONFIG.accounts
MODEL = CONFIG.models.get("breast-cancer")
DATA_KEY = "data/breast-cancer/data.csv"

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


def test_retrain_registers_a_pending_version(
    localcloud: LocalCloud, dev_data: str, dags: dict[str, Any]
) -> None:
    run = dags["retrain_breast_cancer"].test(run_conf={"data_uri": dev_data, "reason": "e2e"})
    assert str(run.state) == "success", _states(run)
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
    assert newest["MetadataProperties"]["GeneratedBy"].startswith(
        "arn:aws:sagemaker:us-east-1:222222222222:pipeline/breast-cancer/execution/"
    )
    model_uri = newest["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert model_uri.startswith(f"s3://{ACCOUNTS.artifacts_bucket}/models/breast-cancer/")
    ledger = Ledger(localcloud.client("s3", hub), ACCOUNTS.artifacts_bucket)
    registered = ledger.records("breast-cancer", newest["ModelPackageVersion"])
    assert [r.event for r in registered] == ["registered"]


def test_metric_below_the_gate_never_registers(
    localcloud: LocalCloud, dev_data: str, dags: dict[str, Any]
) -> None:
    sagemaker = localcloud.client("sagemaker", localcloud.root_session(ACCOUNTS.account_id("hub")))
    before = len(
        sagemaker.list_model_packages(ModelPackageGroupName="breast-cancer")[
            "ModelPackageSummaryList"
        ]
    )
    # One shallow tree on a fifth of the data cannot reach the gate.
    run = dags["retrain_breast_cancer"].test(
        run_conf={
            "data_uri": dev_data,
            "hyperparameters": {"n_estimators": 1, "max_depth": 1, "learning_rate": 0.01},
        }
    )
    states = _states(run)
    assert str(run.state) == "failed"
    assert "register" in states and states["register"] != "success"
    after = len(
        sagemaker.list_model_packages(ModelPackageGroupName="breast-cancer")[
            "ModelPackageSummaryList"
        ]
    )
    assert after == before
