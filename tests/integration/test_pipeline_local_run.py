"""The breast-cancer pipeline run end to end with the real step scripts, as local jobs."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pipelines.breast_cancer
from localcloud.runtime.local_run import LocalRunResult, LocalStepError, run_pipeline_locally
from pipelines.breast_cancer import inference
from pipelines.breast_cancer.dataset import export_dataset

pytestmark = pytest.mark.slow

PIPELINE_DIR = Path(pipelines.breast_cancer.__file__).parent
# Measured on the full data set with the default hyperparameters: test ROC AUC 0.9994.
ROC_AUC_FLOOR = 0.98
NOISE_FRACTION = 0.2


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_dataset(tmp_path_factory.mktemp("data") / "breast_cancer.csv")


@pytest.fixture(scope="module")
def clean_run(data_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> LocalRunResult:
    return run_pipeline_locally(PIPELINE_DIR, data_csv, tmp_path_factory.mktemp("clean"))


def _run_on(frame: pd.DataFrame, tmp_path: Path) -> LocalRunResult:
    tmp_path.mkdir()
    frame.to_csv(tmp_path / "data.csv", index=False)
    return run_pipeline_locally(PIPELINE_DIR, tmp_path / "data.csv", tmp_path / "run")


def test_full_run_trains_a_good_model(clean_run: LocalRunResult) -> None:
    with tarfile.open(clean_run.model_artifact, "r:gz") as tar:
        assert sorted(tar.getnames()) == ["model.joblib", "model_metadata.json"]
    report = json.loads(clean_run.evaluation_report.read_text())
    roc_auc = report["binary_classification_metrics"]["roc_auc"]["value"]
    assert roc_auc == clean_run.metrics["roc_auc"] > ROC_AUC_FLOOR
    assert clean_run.metrics["accuracy"] > 0.95
    assert clean_run.metrics["test_rows"] == 86  # 15 % of 569, stratified
    predictions = pd.read_csv(clean_run.predictions)
    assert len(predictions) == 86
    assert set(clean_run.steps) == {"preprocess", "train", "evaluate"}
    assert "validation roc_auc" in clean_run.steps["train"].stdout


def test_metrics_follow_the_data(clean_run: LocalRunResult, data_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(data_csv)
    noisy = frame.copy()
    flipped = np.random.default_rng(0).choice(len(noisy), int(NOISE_FRACTION * len(noisy)), False)
    noisy.loc[flipped, "label"] = 1 - noisy.loc[flipped, "label"]
    # Each run is a chain of subprocesses; two at a time halve the wall time.
    with ThreadPoolExecutor(max_workers=2) as pool:
        half_future = pool.submit(_run_on, frame.iloc[::2], tmp_path / "half")
        noisy_future = pool.submit(_run_on, noisy, tmp_path / "noisy")
        half, noisy_run = half_future.result(), noisy_future.result()

    assert half.metrics["test_rows"] == 43
    assert half.metrics != clean_run.metrics
    assert noisy_run.metrics["test_rows"] == clean_run.metrics["test_rows"]
    assert noisy_run.metrics["roc_auc"] < clean_run.metrics["roc_auc"] - 0.1


def test_step_failure_names_the_step_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "data.csv"
    bad.write_text("mean_radius,target\n1.0,0\n")
    with pytest.raises(
        LocalStepError, match=r"step 'preprocess' failed: AlgorithmError: "
    ) as error:
        run_pipeline_locally(PIPELINE_DIR, bad, tmp_path / "run")
    assert "missing label column 'label'" in str(error.value)
    assert error.value.step == "preprocess"


@pytest.fixture(scope="module")
def served(
    clean_run: LocalRunResult, tmp_path_factory: pytest.TempPathFactory
) -> inference.ServedModel:
    model_dir = tmp_path_factory.mktemp("endpoint-model")
    with tarfile.open(clean_run.model_artifact, "r:gz") as tar:
        tar.extractall(model_dir, filter="data")
    return inference.model_fn(str(model_dir))


def test_served_predictions_match_offline_evaluation(
    clean_run: LocalRunResult, served: inference.ServedModel
) -> None:
    offline = pd.read_csv(clean_run.predictions)
    features = offline[served.feature_names]

    csv_body = features.to_csv(header=False, index=False)
    prediction = inference.predict_fn(inference.input_fn(csv_body, "text/csv"), served)
    body, content_type = inference.output_fn(prediction, "text/csv")
    assert content_type == "text/csv"
    assert [float(line) for line in body.splitlines()] == offline["probability"].tolist()

    json_body = json.dumps({"instances": features.to_numpy().tolist()})
    prediction = inference.predict_fn(inference.input_fn(json_body, "application/json"), served)
    body, content_type = inference.output_fn(prediction, "application/json")
    answers = json.loads(body)["predictions"]
    assert [a["probability"] for a in answers] == offline["probability"].tolist()
    assert [a["label"] for a in answers] == offline["prediction"].tolist()


@pytest.mark.parametrize(
    ("make_body", "content_type", "message"),
    [
        (lambda row: ",".join(row[:-1]), "text/csv", "must have 30 feature values, got 29"),
        (lambda row: ",".join(["abc", *row[1:]]), "text/csv", "column 1: 'abc' is not a number"),
        (lambda row: ",".join(row), "application/xml", "unsupported content type"),
        (lambda row: "", "text/csv", "request body is empty"),
    ],
)
def test_served_model_rejects_bad_payloads(
    clean_run: LocalRunResult,
    served: inference.ServedModel,
    make_body: Callable[[list[str]], str],
    content_type: str,
    message: str,
) -> None:
    row = pd.read_csv(clean_run.predictions)[served.feature_names].iloc[0].astype(str).tolist()
    with pytest.raises(ValueError, match=message):
        inference.predict_fn(inference.input_fn(make_body(row), content_type), served)
