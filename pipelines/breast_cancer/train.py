"""Training step (SageMaker script mode): fit a gradient-boosted classifier.

Runs in a SageMaker scikit-learn training container and locally; it imports nothing from the
repository. Paths come from the environment the training toolkit sets, with the container
defaults: ``SM_CHANNEL_TRAIN``, ``SM_CHANNEL_VALIDATION`` (directories of CSVs with a header
and a binary ``label`` column), ``SM_MODEL_DIR`` and ``SM_OUTPUT_DATA_DIR``. Hyperparameters
arrive as command-line strings (``--n-estimators 200 --max-depth 3 --learning-rate 0.1``).

Writes to the model dir ``model.joblib`` (a fitted scikit-learn Pipeline whose
``predict_proba[:, 1]`` is the probability of label 1) and ``model_metadata.json`` (feature
names in order, label name, decision threshold, hyperparameters, validation metrics); writes
``validation_metrics.json`` to the output data dir.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

LABEL_COLUMN = "label"
DECISION_THRESHOLD = 0.5
MODEL_FILE = "model.joblib"
METADATA_FILE = "model_metadata.json"


def _unquote(text: str) -> str:
    # Some SDK versions JSON-encode hyperparameter values, so "200" can arrive as '"200"'.
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = float(_unquote(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not value.is_integer() or value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
    return int(value)


def positive_int(text: str) -> int:
    """Parse a hyperparameter string such as ``200``, ``"200"`` or ``200.0`` as an int >= 1."""
    return _whole_number(text, minimum=1)


def non_negative_int(text: str) -> int:
    """Parse a seed string such as ``42`` or ``"42"`` as an int >= 0."""
    return _whole_number(text, minimum=0)


def positive_float(text: str) -> float:
    """Parse a hyperparameter string such as ``0.1`` or ``"1e-1"`` as a finite float > 0."""
    try:
        value = float(_unquote(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def load_channel(channel_dir: Path, name: str) -> pd.DataFrame:
    """Read every ``*.csv`` in a channel dir into one frame; raise ``ValueError`` if unusable."""
    paths = sorted(channel_dir.glob("*.csv")) if channel_dir.is_dir() else []
    if not paths:
        raise ValueError(f"{name} channel {channel_dir} has no *.csv files")
    frame = pd.concat([pd.read_csv(path) for path in paths], ignore_index=True)
    if frame.empty:
        raise ValueError(f"{name} channel {channel_dir} has no data rows")
    if LABEL_COLUMN not in frame.columns:
        raise ValueError(f"{name} channel {channel_dir} has no {LABEL_COLUMN!r} column")
    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise ValueError(f"{name} channel {channel_dir} has non-numeric columns {non_numeric}")
    return frame


def split_features(frame: pd.DataFrame, feature_names: list[str]) -> tuple[pd.DataFrame, Any]:
    """Return ``(features in the given order, labels)``; ``ValueError`` if columns differ."""
    present = [c for c in frame.columns if c != LABEL_COLUMN]
    if sorted(present) != sorted(feature_names):
        missing = sorted(set(feature_names) - set(present))
        extra = sorted(set(present) - set(feature_names))
        raise ValueError(f"feature columns differ: missing {missing}, unexpected {extra}")
    return frame[feature_names].astype("float64"), frame[LABEL_COLUMN].astype("int64")


def build_model(
    n_estimators: int, max_depth: int, learning_rate: float, random_state: int
) -> Pipeline:
    """Return an unfitted Pipeline: StandardScaler then GradientBoostingClassifier."""
    return Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "classifier",
                GradientBoostingClassifier(
                    n_estimators=n_estimators,
                    max_depth=max_depth,
                    learning_rate=learning_rate,
                    random_state=random_state,
                ),
            ),
        ]
    )


def train_model(train: pd.DataFrame, hyperparameters: dict[str, Any]) -> tuple[Pipeline, list[str]]:
    """Fit on ``train``; return the model and the feature names in training order."""
    feature_names = [str(c) for c in train.columns if c != LABEL_COLUMN]
    features, labels = split_features(train, feature_names)
    classes = sorted(int(v) for v in labels.unique())
    if classes != [0, 1]:
        raise ValueError(f"training labels must include both 0 and 1, found {classes}")
    model = build_model(**hyperparameters)
    model.fit(features, labels)
    return model, feature_names


def score(model: Pipeline, frame: pd.DataFrame, feature_names: list[str]) -> dict[str, float]:
    """Return ROC AUC, accuracy and log loss of ``model`` on a labelled frame."""
    features, labels = split_features(frame, feature_names)
    if labels.nunique() < 2:
        raise ValueError("validation labels have a single class: ROC AUC is undefined")
    probability = model.predict_proba(features)[:, 1]
    prediction = (probability >= DECISION_THRESHOLD).astype("int64")
    return {
        "roc_auc": float(roc_auc_score(labels, probability)),
        "accuracy": float(accuracy_score(labels, prediction)),
        "log_loss": float(log_loss(labels, probability, labels=[0, 1])),
    }


def build_metadata(
    feature_names: list[str],
    hyperparameters: dict[str, Any],
    validation_metrics: dict[str, float],
    train_rows: int,
    validation_rows: int,
) -> dict[str, Any]:
    """Return the ``model_metadata.json`` document that evaluation and serving rely on."""
    return {
        "feature_names": feature_names,
        "label": LABEL_COLUMN,
        "positive_class": 1,
        "decision_threshold": DECISION_THRESHOLD,
        "estimator": "GradientBoostingClassifier",
        "sklearn_version": sklearn.__version__,
        "hyperparameters": hyperparameters,
        "validation_roc_auc": validation_metrics["roc_auc"],
        "validation_metrics": validation_metrics,
        "train_rows": train_rows,
        "validation_rows": validation_rows,
    }


def save_model(model: Pipeline, metadata: dict[str, Any], model_dir: Path) -> None:
    """Write ``model.joblib`` and ``model_metadata.json`` into ``model_dir``."""
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / MODEL_FILE)
    (model_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    # No prefix matching: a misspelt hyperparameter must fail the job, not fall back silently.
    parser = argparse.ArgumentParser(description="Train the classifier.", allow_abbrev=False)
    parser.add_argument("--n-estimators", "--n_estimators", type=positive_int, default=200)
    parser.add_argument("--max-depth", "--max_depth", type=positive_int, default=3)
    parser.add_argument("--learning-rate", "--learning_rate", type=positive_float, default=0.1)
    parser.add_argument("--random-state", "--random_state", type=non_negative_int, default=42)
    parser.add_argument("--model-dir", type=Path, default=env.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument(
        "--train", type=Path, default=env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")
    )
    parser.add_argument(
        "--validation",
        type=Path,
        default=env.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation"),
    )
    parser.add_argument(
        "--output-data-dir",
        type=Path,
        default=env.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data"),
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    hyperparameters = {
        "n_estimators": args.n_estimators,
        "max_depth": args.max_depth,
        "learning_rate": args.learning_rate,
        "random_state": args.random_state,
    }
    print(f"hyperparameters: {json.dumps(hyperparameters)}")
    train = load_channel(args.train, "train")
    validation = load_channel(args.validation, "validation")
    model, feature_names = train_model(train, hyperparameters)
    metrics = score(model, validation, feature_names)
    for name, value in metrics.items():
        print(f"validation {name}: {value:.6f}")
    metadata = build_metadata(feature_names, hyperparameters, metrics, len(train), len(validation))
    save_model(model, metadata, args.model_dir)
    args.output_data_dir.mkdir(parents=True, exist_ok=True)
    (args.output_data_dir / "validation_metrics.json").write_text(json.dumps(metrics) + "\n")
    print(f"model saved to {args.model_dir}")


if __name__ == "__main__":
    main()
