"""Evaluation step: score the trained model on the held-out test split.

Runs in a SageMaker scikit-learn processing container and locally; it imports nothing from
the repository. Inputs: ``--model-dir`` holding ``model.tar.gz`` as SageMaker stages a training
job's artifact (``model.joblib`` and ``model_metadata.json`` at the archive root; an already
extracted dir also works) and ``--test-dir`` holding CSVs with the model's features and
``label``. Outputs in ``--output-dir``:

- ``evaluation.json`` in the SageMaker Model Quality shape, so a pipeline PropertyFile can read
  ``binary_classification_metrics.roc_auc.value``;
- ``predictions.csv``: the test features, ``label``, ``probability`` (of label 1) and
  ``prediction``, the reference a deployed endpoint's answers are checked against.
"""

from __future__ import annotations

import argparse
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

LABEL_COLUMN = "label"
ARCHIVE_NAME = "model.tar.gz"
MODEL_FILE = "model.joblib"
METADATA_FILE = "model_metadata.json"
DEFAULT_THRESHOLD = 0.5


def extract_model_archive(model_dir: Path, destination: Path) -> Path:
    """Return the dir holding ``model.joblib``: ``model_dir`` itself, or ``destination``
    after extracting ``model_dir/model.tar.gz`` there (members escaping it are refused)."""
    archive = model_dir / ARCHIVE_NAME
    if archive.is_file():
        destination.mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(destination, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise ValueError(f"{archive} is not a readable model archive: {error}") from error
        model_dir = destination
    if not (model_dir / MODEL_FILE).is_file():
        raise ValueError(f"no {ARCHIVE_NAME} or {MODEL_FILE} found in {model_dir}")
    return model_dir


def load_model(model_dir: Path) -> tuple[Any, dict[str, Any]]:
    """Load ``model.joblib`` and ``model_metadata.json`` from an extracted model dir."""
    metadata_path = model_dir / METADATA_FILE
    if not metadata_path.is_file():
        raise ValueError(f"{metadata_path} is missing: the model's feature order is unknown")
    metadata = json.loads(metadata_path.read_text())
    return joblib.load(model_dir / MODEL_FILE), metadata


def read_test_set(test_dir: Path, feature_names: list[str]) -> pd.DataFrame:
    """Read every ``*.csv`` in ``test_dir``; return the features (model order) and ``label``."""
    paths = sorted(test_dir.glob("*.csv")) if test_dir.is_dir() else []
    if not paths:
        raise ValueError(f"no *.csv files in test dir {test_dir}")
    frame = pd.concat([pd.read_csv(path) for path in paths], ignore_index=True)
    if frame.empty:
        raise ValueError(f"test dir {test_dir} has no data rows")
    missing = [c for c in [*feature_names, LABEL_COLUMN] if c not in frame.columns]
    if missing:
        raise ValueError(f"test data in {test_dir} lacks columns {missing}")
    return frame[[*feature_names, LABEL_COLUMN]]


def _metric(value: float) -> dict[str, Any]:
    # Model Quality reports carry a standard deviation; a single test set has none.
    return {"value": float(value), "standard_deviation": "NaN"}


def build_report(labels: Any, probability: Any, prediction: Any) -> dict[str, Any]:
    """Return the Model Quality ``evaluation.json`` document for binary labels 0/1.

    ``confusion_matrix[actual][predicted]`` counts rows; ``roc_auc`` needs both classes.
    """
    labels = np.asarray(labels, dtype="int64")
    if len(np.unique(labels)) < 2:
        raise ValueError("test labels have a single class: ROC AUC is undefined")
    matrix = confusion_matrix(labels, prediction, labels=[0, 1])
    return {
        "binary_classification_metrics": {
            "roc_auc": _metric(roc_auc_score(labels, probability)),
            "accuracy": _metric(accuracy_score(labels, prediction)),
            "precision": _metric(precision_score(labels, prediction, zero_division=0)),
            "recall": _metric(recall_score(labels, prediction, zero_division=0)),
            "f1": _metric(f1_score(labels, prediction, zero_division=0)),
            "confusion_matrix": {
                str(actual): {str(pred): int(matrix[actual][pred]) for pred in (0, 1)}
                for actual in (0, 1)
            },
        },
        "test_rows": len(labels),
    }


def evaluate(
    model: Any, metadata: dict[str, Any], test: pd.DataFrame
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Score ``model`` on ``test``; return ``(report, predictions frame)``."""
    feature_names = list(metadata["feature_names"])
    threshold = float(metadata.get("decision_threshold", DEFAULT_THRESHOLD))
    probability = model.predict_proba(test[feature_names].astype("float64"))[:, 1]
    predictions = test[[*feature_names, LABEL_COLUMN]].copy()
    predictions["probability"] = probability
    predictions["prediction"] = (probability >= threshold).astype("int64")
    report = build_report(predictions[LABEL_COLUMN], probability, predictions["prediction"])
    return report, predictions


def write_outputs(
    report: dict[str, Any], predictions: pd.DataFrame, output_dir: Path
) -> tuple[Path, Path]:
    """Write ``evaluation.json`` and ``predictions.csv``; return their paths."""
    output_dir.mkdir(parents=True, exist_ok=True)
    report_path = output_dir / "evaluation.json"
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    predictions_path = output_dir / "predictions.csv"
    predictions.to_csv(predictions_path, index=False, lineterminator="\n")
    return report_path, predictions_path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Evaluate the model on the test split.")
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="model-") as extracted:
        model_dir = extract_model_archive(args.model_dir, Path(extracted))
        model, metadata = load_model(model_dir)
    test = read_test_set(args.test_dir, list(metadata["feature_names"]))
    report, predictions = evaluate(model, metadata, test)
    report_path, _ = write_outputs(report, predictions, args.output_dir)
    for name, metric in report["binary_classification_metrics"].items():
        if name != "confusion_matrix":
            print(f"test {name}: {metric['value']:.6f}")
    print(f"evaluation report written to {report_path}")


if __name__ == "__main__":
    main()
