"""Unit tests for the training step script."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from pipelines.breast_cancer import train
from pipelines.breast_cancer.dataset import load_dataset

SMALL_HPS = {"n_estimators": 20, "max_depth": 2, "learning_rate": 0.3, "random_state": 0}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    # Shuffled once, so that both slices below hold both classes.
    return load_dataset().sample(frac=1.0, random_state=0).reset_index(drop=True)


@pytest.mark.parametrize(
    ("text", "expected"), [("200", 200), ('"200"', 200), (" 200.0 ", 200), ("'7'", 7)]
)
def test_positive_int_parses_what_sagemaker_sends(text: str, expected: int) -> None:
    assert train.positive_int(text) == expected


@pytest.mark.parametrize("text", ["abc", "0", "-3", "2.5", ""])
def test_positive_int_rejects_bad_values(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="whole number"):
        train.positive_int(text)


def test_positive_float_parses_and_rejects() -> None:
    assert train.positive_float('"0.1"') == pytest.approx(0.1)
    assert train.positive_float("1e-2") == pytest.approx(0.01)
    for text in ("nan", "inf", "0", "-0.1", "fast"):
        with pytest.raises(argparse.ArgumentTypeError):
            train.positive_float(text)


def test_parse_args_takes_paths_from_sagemaker_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SM_MODEL_DIR", "/m")
    monkeypatch.setenv("SM_CHANNEL_TRAIN", "/t")
    monkeypatch.setenv("SM_CHANNEL_VALIDATION", "/v")
    monkeypatch.setenv("SM_OUTPUT_DATA_DIR", "/o")
    args = train.parse_args(["--n-estimators", "50", "--learning_rate", "0.05"])
    assert (args.model_dir, args.train, args.validation) == (Path("/m"), Path("/t"), Path("/v"))
    assert args.output_data_dir == Path("/o")
    assert (args.n_estimators, args.max_depth, args.learning_rate) == (50, 3, 0.05)


def test_parse_args_rejects_misspelt_hyperparameters() -> None:
    with pytest.raises(SystemExit):
        train.parse_args(["--n-estimator", "50"])  # a prefix must not be accepted


def test_train_model_learns_and_is_deterministic(data: pd.DataFrame) -> None:
    model, features = train.train_model(data.iloc[:300], SMALL_HPS)
    assert features == [c for c in data.columns if c != "label"]
    metrics = train.score(model, data.iloc[300:450], features)
    assert metrics["roc_auc"] > 0.95
    assert 0.85 < metrics["accuracy"] <= 1.0
    assert metrics["log_loss"] > 0.0
    again, _ = train.train_model(data.iloc[:300], SMALL_HPS)
    holdout = data.iloc[300:450][features]
    np.testing.assert_array_equal(model.predict_proba(holdout), again.predict_proba(holdout))


def test_score_reorders_columns_by_name(data: pd.DataFrame) -> None:
    model, features = train.train_model(data.iloc[:300], SMALL_HPS)
    validation = data.iloc[300:450]
    shuffled = validation[list(reversed(validation.columns))]
    assert train.score(model, shuffled, features) == train.score(model, validation, features)


def test_training_rejects_single_class_and_mismatched_features(data: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"both 0 and 1, found \[1\]"):
        train.train_model(data[data["label"] == 1], SMALL_HPS)
    model, features = train.train_model(data.iloc[:300], SMALL_HPS)
    with pytest.raises(ValueError, match=r"missing \['mean_area'\], unexpected \['area'\]"):
        train.score(model, data.iloc[300:].rename(columns={"mean_area": "area"}), features)


def test_load_channel_rejects_unusable_channels(tmp_path: Path, data: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"train channel .* has no \*\.csv files"):
        train.load_channel(tmp_path, "train")
    data.head(3).drop(columns="label").to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(ValueError, match="has no 'label' column"):
        train.load_channel(tmp_path, "train")


def test_main_saves_model_and_metadata(
    tmp_path: Path, data: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, rows in (("train", data.iloc[:300]), ("validation", data.iloc[300:450])):
        (tmp_path / name).mkdir()
        rows.to_csv(tmp_path / name / f"{name}.csv", index=False)
    model_dir, output_dir = tmp_path / "model", tmp_path / "output"
    train.main(
        [
            *("--n-estimators", "20", "--max-depth", '"2"', "--learning-rate", "0.3"),
            *("--train", str(tmp_path / "train"), "--validation", str(tmp_path / "validation")),
            *("--model-dir", str(model_dir), "--output-data-dir", str(output_dir)),
        ]
    )
    metadata = json.loads((model_dir / "model_metadata.json").read_text())
    assert metadata["feature_names"] == [c for c in data.columns if c != "label"]
    assert metadata["label"] == "label"
    assert metadata["hyperparameters"] == {
        "n_estimators": 20,
        "max_depth": 2,
        "learning_rate": 0.3,
        "random_state": 42,
    }
    assert metadata["validation_roc_auc"] == metadata["validation_metrics"]["roc_auc"] > 0.95
    assert (metadata["train_rows"], metadata["validation_rows"]) == (300, 150)
    model = joblib.load(model_dir / "model.joblib")
    assert model.named_steps["classifier"].n_estimators == 20
    saved = json.loads((output_dir / "validation_metrics.json").read_text())
    assert saved == metadata["validation_metrics"]
    assert f"validation roc_auc: {saved['roc_auc']:.6f}" in capsys.readouterr().out
