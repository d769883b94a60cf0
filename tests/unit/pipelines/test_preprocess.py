"""Unit tests for the preprocessing step script."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines.breast_cancer import preprocess
from pipelines.breast_cancer.dataset import load_dataset


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return load_dataset()


def test_validate_frame_returns_float_features_and_int_labels(data: pd.DataFrame) -> None:
    raw = data.head(20).astype(str)  # as if every value had been read as text
    valid = preprocess.validate_frame(raw, source="raw.csv")
    assert list(valid.columns) == list(data.columns)
    assert valid["label"].dtype == "int64"
    assert all(valid[c].dtype == "float64" for c in valid.columns if c != "label")
    pd.testing.assert_frame_equal(valid, data.head(20), check_dtype=False)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"a": [], "label": []}), r"raw\.csv: no data rows"),
        (pd.DataFrame({"a": [1.0], "target": [1]}), r"raw\.csv: missing label column 'label'"),
        (pd.DataFrame({"label": [0, 1]}), "no feature columns"),
        (pd.DataFrame({"a": [1.0, "abc"], "label": [0, 1]}), r"column 'a'.*'abc' in data row 2"),
        (pd.DataFrame({"a": [1.0, None], "label": [0, 1]}), "column 'a' has 1 missing"),
        (pd.DataFrame({"a": [1.0, float("inf")], "label": [0, 1]}), "column 'a'"),
        (pd.DataFrame({"a": [1.0, 2.0], "label": [0, 2]}), "'label' must be 0 or 1, found 2$"),
        (pd.DataFrame({"a": [1.0], "label": ["yes"]}), "column 'label'"),
    ],
)
def test_validate_frame_rejects_bad_input(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        preprocess.validate_frame(frame, source="raw.csv")


def test_read_input_concatenates_files_in_name_order(tmp_path: Path, data: pd.DataFrame) -> None:
    data.iloc[100:150].to_csv(tmp_path / "b.csv", index=False)
    data.iloc[:100].to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "notes.txt").write_text("not data")
    frame = preprocess.read_input(tmp_path)
    pd.testing.assert_frame_equal(frame, data.iloc[:150].reset_index(drop=True))


def test_read_input_names_the_bad_file(tmp_path: Path, data: pd.DataFrame) -> None:
    data.head(5).to_csv(tmp_path / "a.csv", index=False)
    data.head(5).drop(columns="label").to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(ValueError, match=r"b\.csv: missing label column"):
        preprocess.read_input(tmp_path)


def test_read_input_rejects_missing_empty_and_mismatched_input(
    tmp_path: Path, data: pd.DataFrame
) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        preprocess.read_input(tmp_path / "absent")
    with pytest.raises(ValueError, match=r"no \*\.csv files"):
        preprocess.read_input(tmp_path)
    (tmp_path / "a.csv").write_text("")
    with pytest.raises(ValueError, match=r"a\.csv: file is empty"):
        preprocess.read_input(tmp_path)
    data.head(5).to_csv(tmp_path / "a.csv", index=False)
    data.head(5)[["mean_area", "label"]].to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(ValueError, match=r"b\.csv: columns .* differ from"):
        preprocess.read_input(tmp_path)


def test_split_is_a_stratified_partition(data: pd.DataFrame) -> None:
    splits = preprocess.split_dataset(data, 0.15, 0.15, seed=42)
    sizes = {name: len(split) for name, split in splits.items()}
    assert sum(sizes.values()) == len(data)
    assert sizes["test"] == pytest.approx(0.15 * len(data), abs=1)
    assert sizes["validation"] == pytest.approx(0.15 * len(data), abs=1)
    rows = pd.concat(splits.values()).sort_values(list(data.columns)).reset_index(drop=True)
    pd.testing.assert_frame_equal(rows, data.sort_values(list(data.columns)).reset_index(drop=True))
    overall = data["label"].mean()
    for split in splits.values():
        assert split["label"].mean() == pytest.approx(overall, abs=0.02)


def test_split_depends_only_on_rows_and_seed(data: pd.DataFrame) -> None:
    first = preprocess.split_dataset(data, 0.15, 0.15, seed=42)
    again = preprocess.split_dataset(data.copy(), 0.15, 0.15, seed=42)
    other = preprocess.split_dataset(data, 0.15, 0.15, seed=7)
    for name in preprocess.SPLITS:
        pd.testing.assert_frame_equal(first[name], again[name])
    assert not first["test"].equals(other["test"])


@pytest.mark.parametrize(
    ("validation", "test", "message"),
    [
        (0.0, 0.2, "validation fraction must be between 0 and 1"),
        (0.2, 1.0, "test fraction must be between 0 and 1"),
        (0.5, 0.5, "must leave rows for training"),
    ],
)
def test_split_rejects_bad_fractions(
    data: pd.DataFrame, validation: float, test: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        preprocess.split_dataset(data, validation, test, seed=0)


def test_split_rejects_data_too_small_or_single_class(data: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="single class"):
        preprocess.split_dataset(data[data["label"] == 1], 0.15, 0.15, seed=0)
    tiny = pd.concat([data[data["label"] == 0].head(3), data[data["label"] == 1].head(2)])
    with pytest.raises(ValueError, match="cannot split 5 rows"):
        preprocess.split_dataset(tiny, 0.15, 0.15, seed=0)


def test_main_writes_the_three_splits(tmp_path: Path, data: pd.DataFrame) -> None:
    input_dir = tmp_path / "input"
    input_dir.mkdir()
    data.to_csv(input_dir / "data.csv", index=False)
    output_dir = tmp_path / "output"
    preprocess.main(["--input-dir", str(input_dir), "--output-dir", str(output_dir), "--seed", "3"])
    total = 0
    for name in ("train", "validation", "test"):
        split = pd.read_csv(output_dir / name / f"{name}.csv")
        assert list(split.columns) == list(data.columns)
        assert set(split["label"]) == {0, 1}
        total += len(split)
    assert total == len(data)
