"""Unit tests for the evaluation step script."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.breast_cancer import evaluate, train
from pipelines.breast_cancer.dataset import load_dataset

# What the pipeline's condition step reads from the PropertyFile with JsonGet.
JSON_GET_PATH = "binary_classification_metrics.roc_auc.value"
SMALL_HPS = {"n_estimators": 20, "max_depth": 2, "learning_rate": 0.3, "random_state": 0}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return load_dataset().sample(frac=1.0, random_state=1).reset_index(drop=True)


@pytest.fixture(scope="module")
def staged_model(tmp_path_factory: pytest.TempPathFactory, data: pd.DataFrame) -> Path:
    """A dir holding only ``model.tar.gz``, as SageMaker stages a training job's output."""
    model, features = train.train_model(data.iloc[:300], SMALL_HPS)
    metrics = train.score(model, data.iloc[300:400], features)
    built = tmp_path_factory.mktemp("built")
    train.save_model(model, train.build_metadata(features, SMALL_HPS, metrics, 300, 100), built)
    staged = tmp_path_factory.mktemp("staged")
    with tarfile.open(staged / "model.tar.gz", "w:gz") as tar:
        for path in built.iterdir():
            tar.add(path, arcname=path.name)
    return staged


def test_build_report_has_the_model_quality_shape() -> None:
    labels = [0, 0, 1, 1, 1]
    probability = [0.1, 0.6, 0.4, 0.9, 0.8]
    prediction = [0, 1, 0, 1, 1]
    report = json.loads(json.dumps(evaluate.build_report(labels, probability, prediction)))
    metrics = report["binary_classification_metrics"]
    assert metrics["roc_auc"] == {"value": pytest.approx(5 / 6), "standard_deviation": "NaN"}
    assert metrics["accuracy"]["value"] == pytest.approx(0.6)
    assert metrics["precision"]["value"] == pytest.approx(2 / 3)
    assert metrics["recall"]["value"] == pytest.approx(2 / 3)
    assert metrics["f1"]["value"] == pytest.approx(2 / 3)
    assert metrics["confusion_matrix"] == {"0": {"0": 1, "1": 1}, "1": {"0": 1, "1": 2}}
    assert report["test_rows"] == 5


def test_build_report_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="single class"):
        evaluate.build_report([1, 1], [0.2, 0.9], [0, 1])


def test_extract_model_archive(staged_model: Path, tmp_path: Path) -> None:
    extracted = evaluate.extract_model_archive(staged_model, tmp_path / "x")
    assert extracted == tmp_path / "x"
    assert {p.name for p in extracted.iterdir()} == {"model.joblib", "model_metadata.json"}
    assert evaluate.extract_model_archive(extracted, tmp_path / "unused") == extracted
    with pytest.raises(ValueError, match=r"no model\.tar\.gz or model\.joblib found"):
        evaluate.extract_model_archive(tmp_path / "empty", tmp_path / "y")


def test_extract_model_archive_refuses_paths_outside_the_destination(tmp_path: Path) -> None:
    staged = tmp_path / "staged"
    staged.mkdir()
    with tarfile.open(staged / "model.tar.gz", "w:gz") as tar:
        member = tarfile.TarInfo("../escaped.txt")
        member.size = 2
        tar.addfile(member, io.BytesIO(b"hi"))
    with pytest.raises(ValueError, match="not a readable model archive"):
        evaluate.extract_model_archive(staged, tmp_path / "dest")
    assert not (tmp_path / "escaped.txt").exists()


def test_evaluate_scores_and_predicts_every_test_row(
    staged_model: Path, tmp_path: Path, data: pd.DataFrame
) -> None:
    model, metadata = evaluate.load_model(evaluate.extract_model_archive(staged_model, tmp_path))
    test = data.iloc[400:]
    report, predictions = evaluate.evaluate(model, metadata, test)
    features = metadata["feature_names"]
    assert list(predictions.columns) == [*features, "label", "probability", "prediction"]
    expected = model.predict_proba(test[features])[:, 1]
    np.testing.assert_array_equal(predictions["probability"], expected)
    np.testing.assert_array_equal(predictions["prediction"], (expected >= 0.5).astype(int))
    assert report["test_rows"] == len(test)
    assert report["binary_classification_metrics"]["roc_auc"]["value"] > 0.95


def test_read_test_set_names_missing_columns(tmp_path: Path, data: pd.DataFrame) -> None:
    data.head(5).drop(columns=["label", "mean_area"]).to_csv(tmp_path / "t.csv", index=False)
    features = [c for c in data.columns if c != "label"]
    with pytest.raises(ValueError, match=r"lacks columns \['mean_area', 'label'\]"):
        evaluate.read_test_set(tmp_path, features)


def test_main_writes_report_and_predictions(
    staged_model: Path, tmp_path: Path, data: pd.DataFrame
) -> None:
    test_dir, output_dir = tmp_path / "test", tmp_path / "evaluation"
    test_dir.mkdir()
    data.iloc[400:].to_csv(test_dir / "test.csv", index=False)
    evaluate.main(
        [
            *("--model-dir", str(staged_model), "--test-dir", str(test_dir)),
            *("--output-dir", str(output_dir)),
        ]
    )
    report = json.loads((output_dir / "evaluation.json").read_text())
    value = report
    for key in JSON_GET_PATH.split("."):
        value = value[key]
    assert isinstance(value, float) and value > 0.95
    predictions = pd.read_csv(output_dir / "predictions.csv")
    assert len(predictions) == report["test_rows"] == len(data) - 400
    matrix = report["binary_classification_metrics"]["confusion_matrix"]
    assert matrix["1"]["1"] == int(
        ((predictions["label"] == 1) & (predictions["prediction"] == 1)).sum()
    )
    assert not any(staged_model.glob("*.joblib")), "the staged input must stay as staged"
