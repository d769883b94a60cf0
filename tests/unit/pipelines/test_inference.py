"""Unit tests for the serving functions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.breast_cancer import inference, train
from pipelines.breast_cancer.dataset import load_dataset

SMALL_HPS = {"n_estimators": 20, "max_depth": 2, "learning_rate": 0.3, "random_state": 0}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return load_dataset().sample(frac=1.0, random_state=2).reset_index(drop=True)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, data: pd.DataFrame) -> Path:
    model, features = train.train_model(data.iloc[:300], SMALL_HPS)
    metrics = train.score(model, data.iloc[300:400], features)
    directory = tmp_path_factory.mktemp("model")
    train.save_model(model, train.build_metadata(features, SMALL_HPS, metrics, 300, 100), directory)
    return directory


@pytest.fixture(scope="module")
def served(model_dir: Path) -> inference.ServedModel:
    return inference.model_fn(str(model_dir))


@pytest.fixture(scope="module")
def rows(data: pd.DataFrame, served: inference.ServedModel) -> pd.DataFrame:
    return data.iloc[400:405][served.feature_names]


def invoke(
    served: inference.ServedModel, body: str | bytes, content_type: str, accept: str
) -> tuple[str, str]:
    data = inference.input_fn(body, content_type)
    return inference.output_fn(inference.predict_fn(data, served), accept)


def expected_probabilities(served: inference.ServedModel, rows: pd.DataFrame) -> list[float]:
    return [float(p) for p in served.estimator.predict_proba(rows)[:, 1]]


def test_model_fn_loads_feature_order_and_threshold(
    served: inference.ServedModel, data: pd.DataFrame
) -> None:
    assert served.feature_names == [c for c in data.columns if c != "label"]
    assert served.threshold == 0.5


def test_model_fn_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"has no model\.joblib"):
        inference.model_fn(tmp_path)


def test_csv_without_header(served: inference.ServedModel, rows: pd.DataFrame) -> None:
    body = rows.to_csv(header=False, index=False)
    text, content_type = invoke(served, body, "text/csv", "text/csv")
    assert content_type == "text/csv"
    assert [float(line) for line in text.splitlines()] == expected_probabilities(served, rows)


def test_csv_with_header_in_any_order(served: inference.ServedModel, rows: pd.DataFrame) -> None:
    shuffled = rows[list(reversed(rows.columns))]
    body = shuffled.to_csv(index=False).encode()
    text, _ = invoke(served, body, "text/csv; charset=utf-8", "text/csv")
    assert [float(line) for line in text.splitlines()] == expected_probabilities(served, rows)


@pytest.mark.parametrize("shape", ["instances-lists", "instances-objects", "bare-objects"])
def test_json_payload_shapes(served: inference.ServedModel, rows: pd.DataFrame, shape: str) -> None:
    records = rows.to_dict(orient="records")
    document: object = {
        "instances-lists": {"instances": rows.to_numpy().tolist()},
        "instances-objects": {"instances": records},
        "bare-objects": records,
    }[shape]
    text, content_type = invoke(served, json.dumps(document), "application/json", "*/*")
    assert content_type == "application/json"
    predictions = json.loads(text)["predictions"]
    probabilities = expected_probabilities(served, rows)
    assert [p["probability"] for p in predictions] == probabilities
    assert [p["label"] for p in predictions] == [int(p >= 0.5) for p in probabilities]


def test_labels_follow_the_threshold(served: inference.ServedModel, data: pd.DataFrame) -> None:
    prediction = inference.predict_fn(data[served.feature_names], served)
    assert set(prediction["label"]) == {0, 1}
    np.testing.assert_array_equal(prediction["label"], prediction["probability"] >= 0.5)


def test_accept_header_negotiation(served: inference.ServedModel, rows: pd.DataFrame) -> None:
    prediction = inference.predict_fn(
        inference.input_fn(rows.to_csv(index=False), "text/csv"), served
    )
    assert inference.output_fn(prediction, None)[1] == "application/json"
    assert inference.output_fn(prediction, "text/html, text/csv;q=0.9")[1] == "text/csv"
    with pytest.raises(ValueError, match="unsupported accept type 'text/html'"):
        inference.output_fn(prediction, "text/html")


def _csv_row(rows: pd.DataFrame, count: int) -> str:
    return ",".join(str(v) for v in rows.iloc[0, :count])


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("", "text/csv", "request body is empty"),
        ("   \n", "application/json", "request body is empty"),
        ("1,2,3", "application/x-npy", "unsupported content type 'application/x-npy'"),
        ("1,2,3", None, "unsupported content type None"),
        (b"\xff\xfe", "text/csv", "not UTF-8"),
        ("{not json", "application/json", "not valid JSON"),
        ('{"rows": []}', "application/json", "must be"),
        ('{"instances": []}', "application/json", "no instances"),
        ('{"instances": [[1, 2], {"a": 1}]}', "application/json", "all be lists"),
        ('{"instances": [[1, 2], [3]]}', "application/json", "row 2 has 1 values, expected 2"),
        ('{"instances": [[1, true]]}', "application/json", "row 1, column 2: True is not a number"),
        ('{"instances": [[1, "x"]]}', "application/json", "row 1, column 2: 'x' is not a number"),
        ('[{"a": 1}, {"b": 2}]', "application/json", "instance 2 has keys"),
        ("1,2\n3,abc", "text/csv", "row 2, column 2: 'abc' is not a number"),
        ("1,nan", "text/csv", "'nan' is not a finite number"),
        ("a,b\n", "text/csv", "header but no data rows"),
    ],
)
def test_input_fn_rejects_bad_payloads(
    body: str | bytes, content_type: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        inference.input_fn(body, content_type)


def test_predict_fn_rejects_wrong_features(
    served: inference.ServedModel, rows: pd.DataFrame
) -> None:
    short = inference.input_fn(_csv_row(rows, 29), "text/csv")
    with pytest.raises(ValueError, match="each row must have 30 feature values, got 29"):
        inference.predict_fn(short, served)
    renamed = rows.rename(columns={"mean_area": "area"})
    parsed = inference.input_fn(renamed.to_csv(index=False), "text/csv")
    with pytest.raises(ValueError, match=r"missing \['mean_area'\], unexpected \['area'\]"):
        inference.predict_fn(parsed, served)
