"""Serving functions for the SageMaker scikit-learn container (and the local endpoint runtime).

Imports nothing from the repository. The container calls, per model and per request::

    model = model_fn(model_dir)                       # dir with the extracted model.tar.gz
    data = input_fn(request_body, request_content_type)
    prediction = predict_fn(data, model)
    body, content_type = output_fn(prediction, accept)

Requests:

- ``text/csv``: one row of feature values per line, in the model's feature order, no header;
  or a first line naming the features (any order, matched by name).
- ``application/json``: ``{"instances": [[...], ...]}`` (rows of values in feature order), or
  a list of objects keyed by feature name (bare, or under ``"instances"``).

Responses: ``application/json`` (the default for ``*/*``) gives
``{"predictions": [{"probability": p, "label": 0|1}, ...]}``; ``text/csv`` gives one
probability of label 1 per line. Any bad payload raises ``ValueError`` naming what was wrong.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

CSV = "text/csv"
JSON = "application/json"
MODEL_FILE = "model.joblib"
METADATA_FILE = "model_metadata.json"
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class ServedModel:
    """A fitted estimator with the feature order and threshold it was trained with."""

    estimator: Any
    feature_names: list[str]
    threshold: float


def model_fn(model_dir: str | Path) -> ServedModel:
    """Load ``model.joblib`` and ``model_metadata.json`` from ``model_dir``."""
    model_dir = Path(model_dir)
    for name in (MODEL_FILE, METADATA_FILE):
        if not (model_dir / name).is_file():
            raise ValueError(f"model dir {model_dir} has no {name}")
    metadata = json.loads((model_dir / METADATA_FILE).read_text())
    return ServedModel(
        estimator=joblib.load(model_dir / MODEL_FILE),
        feature_names=[str(n) for n in metadata["feature_names"]],
        threshold=float(metadata.get("decision_threshold", DEFAULT_THRESHOLD)),
    )


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{where}: {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{where}: {value!r} is not a finite number")
    return number


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _rows_frame(rows: list[list[Any]], columns: list[str] | None) -> pd.DataFrame:
    width = len(columns) if columns is not None else len(rows[0])
    values: list[list[float]] = []
    for index, row in enumerate(rows, start=1):
        if len(row) != width:
            raise ValueError(f"row {index} has {len(row)} values, expected {width}")
        values.append([_number(v, f"row {index}, column {c + 1}") for c, v in enumerate(row)])
    return pd.DataFrame(values, columns=columns)


def _parse_csv(text: str) -> pd.DataFrame:
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError("CSV request has no rows")
    columns = None
    if not any(_is_number(cell) for cell in rows[0]):
        columns = [cell.strip() for cell in rows[0]]
        rows = rows[1:]
        if not rows:
            raise ValueError("CSV request has a header but no data rows")
    return _rows_frame([[cell.strip() for cell in row] for row in rows], columns)


def _parse_json(text: str) -> pd.DataFrame:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"request is not valid JSON: {error}") from None
    instances = document.get("instances") if isinstance(document, dict) else document
    if not isinstance(instances, list):
        raise ValueError('JSON request must be {"instances": [...]} or a list of objects')
    if not instances:
        raise ValueError("JSON request has no instances")
    if all(isinstance(item, list) for item in instances):
        return _rows_frame(instances, None)
    if all(isinstance(item, dict) for item in instances):
        columns = [str(key) for key in instances[0]]
        for index, item in enumerate(instances, start=1):
            if set(item) != set(columns):
                raise ValueError(f"instance {index} has keys {sorted(item)}, expected {columns}")
        return _rows_frame([[item[c] for c in columns] for item in instances], columns)
    raise ValueError("JSON instances must all be lists of values or all be objects")


def input_fn(request_body: str | bytes, request_content_type: str | None) -> pd.DataFrame:
    """Parse a request into a float frame: named columns when the payload names features,
    positional (0..n-1) columns otherwise. Feature checks happen in ``predict_fn``."""
    media_type = _media_type(request_content_type)
    if media_type not in (CSV, JSON):
        raise ValueError(
            f"unsupported content type {request_content_type!r}: use {CSV!r} or {JSON!r}"
        )
    if isinstance(request_body, bytes | bytearray):
        try:
            request_body = bytes(request_body).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("request body is not UTF-8 text") from None
    if not request_body.strip():
        raise ValueError("request body is empty")
    return _parse_csv(request_body) if media_type == CSV else _parse_json(request_body)


def _align(data: pd.DataFrame, feature_names: list[str]) -> pd.DataFrame:
    if all(isinstance(c, str) for c in data.columns):
        names = list(data.columns)
        missing = [n for n in feature_names if n not in names]
        unexpected = [n for n in names if n not in feature_names]
        if missing or unexpected or len(set(names)) != len(names):
            raise ValueError(
                f"feature names do not match the model: missing {missing}, unexpected {unexpected}"
            )
        return data[feature_names]
    if data.shape[1] != len(feature_names):
        raise ValueError(
            f"each row must have {len(feature_names)} feature values, got {data.shape[1]}"
        )
    return pd.DataFrame(data.to_numpy(), columns=feature_names)


def predict_fn(input_data: pd.DataFrame, model: ServedModel) -> pd.DataFrame:
    """Return one row per input row: ``probability`` (of label 1) and ``label`` (0 or 1)."""
    features = _align(input_data, model.feature_names)
    probability = model.estimator.predict_proba(features)[:, 1]
    return pd.DataFrame(
        {"probability": probability, "label": (probability >= model.threshold).astype("int64")}
    )


def _response_type(accept: str | None) -> str:
    for part in (accept or "").split(","):
        media_type = _media_type(part)
        if media_type in ("", "*/*", "application/*"):
            return JSON
        if media_type in (CSV, JSON):
            return media_type
    raise ValueError(f"unsupported accept type {accept!r}: use {CSV!r} or {JSON!r}")


def output_fn(prediction: pd.DataFrame, accept: str | None) -> tuple[str, str]:
    """Serialise ``predict_fn``'s result; return ``(body, content_type)``."""
    content_type = _response_type(accept)
    if content_type == CSV:
        return "".join(f"{float(p)!r}\n" for p in prediction["probability"]), CSV
    items = [
        {"probability": float(p), "label": int(label)}
        for p, label in zip(prediction["probability"], prediction["label"], strict=True)
    ]
    return json.dumps({"predictions": items}), JSON
