"""Processing step: validate the raw CSVs and split them into train, validation and test.

Runs in a SageMaker scikit-learn processing container and locally; it imports nothing from
the repository. Input: every ``*.csv`` in ``--input-dir``, all with the same header, numeric
feature columns and a binary ``label`` column (1 = positive class). Output, each with a header
and the ``label`` column last::

    {output-dir}/train/train.csv
    {output-dir}/validation/validation.csv
    {output-dir}/test/test.csv

The split is stratified on ``label`` and depends only on the input rows and ``--seed``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

LABEL_COLUMN = "label"
SPLITS = ("train", "validation", "test")


def validate_frame(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Return ``frame`` with float features and an int ``label``, or raise ``ValueError``.

    ``source`` names the file in error messages. Rejected: no rows, no ``label`` column, no
    feature column, duplicated column names, missing or non-numeric values, non-finite
    features, labels other than 0 and 1.
    """
    if frame.empty:
        raise ValueError(f"{source}: no data rows")
    columns = [str(c) for c in frame.columns]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise ValueError(f"{source}: duplicated columns {duplicated}")
    if LABEL_COLUMN not in columns:
        raise ValueError(f"{source}: missing label column {LABEL_COLUMN!r} (columns: {columns})")
    features = [c for c in columns if c != LABEL_COLUMN]
    if not features:
        raise ValueError(f"{source}: no feature columns besides {LABEL_COLUMN!r}")

    result = pd.DataFrame(index=frame.index)
    for column in [*features, LABEL_COLUMN]:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype="float64", na_value=np.nan)))
        if bad.size:
            first = frame[column].iloc[bad[0]]
            raise ValueError(
                f"{source}: column {column!r} has {bad.size} missing, non-numeric or infinite "
                f"value(s), first {first!r} in data row {bad[0] + 1}"
            )
        result[column] = values.astype("float64")

    labels = result[LABEL_COLUMN]
    unexpected = sorted({float(v) for v in labels.unique()} - {0.0, 1.0})
    if unexpected:
        found = ", ".join(f"{v:g}" for v in unexpected)
        raise ValueError(f"{source}: column {LABEL_COLUMN!r} must be 0 or 1, found {found}")
    result[LABEL_COLUMN] = labels.astype("int64")
    return result


def read_input(input_dir: Path) -> pd.DataFrame:
    """Read and validate every ``*.csv`` in ``input_dir`` (sorted by name) into one frame."""
    if not input_dir.is_dir():
        raise ValueError(f"input directory {input_dir} does not exist")
    paths = sorted(input_dir.glob("*.csv"))
    if not paths:
        raise ValueError(f"no *.csv files in {input_dir}")
    frames: list[pd.DataFrame] = []
    for path in paths:
        try:
            raw = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            raise ValueError(f"{path}: file is empty") from None
        frame = validate_frame(raw, source=str(path))
        if frames and list(frame.columns) != list(frames[0].columns):
            raise ValueError(
                f"{path}: columns {list(frame.columns)} differ from {paths[0]}: "
                f"{list(frames[0].columns)}"
            )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def split_dataset(
    frame: pd.DataFrame, validation_fraction: float, test_fraction: float, seed: int
) -> dict[str, pd.DataFrame]:
    """Split ``frame`` into ``train``, ``validation`` and ``test``, stratified on ``label``.

    Fractions are of the whole data set; each must be in (0, 1) and together below 1. Every
    split must receive at least one row of each class, else ``ValueError``.
    """
    for name, fraction in (("validation", validation_fraction), ("test", test_fraction)):
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"{name} fraction must be between 0 and 1, got {fraction}")
    if validation_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"validation + test fractions must leave rows for training, got "
            f"{validation_fraction} + {test_fraction}"
        )
    counts = frame[LABEL_COLUMN].value_counts()
    if len(counts) < 2:
        raise ValueError(f"{LABEL_COLUMN!r} has a single class {list(counts.index)}: cannot split")

    try:
        rest, test = train_test_split(
            frame, test_size=test_fraction, stratify=frame[LABEL_COLUMN], random_state=seed
        )
        train, validation = train_test_split(
            rest,
            test_size=validation_fraction / (1.0 - test_fraction),
            stratify=rest[LABEL_COLUMN],
            random_state=seed,
        )
    except ValueError as error:
        raise ValueError(
            f"cannot split {len(frame)} rows (class counts {counts.to_dict()}) into "
            f"validation {validation_fraction} and test {test_fraction}: {error}"
        ) from error

    splits = {"train": train, "validation": validation, "test": test}
    for name, split in splits.items():
        if split[LABEL_COLUMN].nunique() < 2:
            raise ValueError(f"the {name} split has a single class: add rows or raise its fraction")
    return {name: split.reset_index(drop=True) for name, split in splits.items()}


def write_splits(splits: dict[str, pd.DataFrame], output_dir: Path) -> dict[str, Path]:
    """Write each split to ``output_dir/<name>/<name>.csv``; return the paths by name."""
    paths: dict[str, Path] = {}
    for name, split in splits.items():
        path = output_dir / name / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        split.to_csv(path, index=False, lineterminator="\n")
        paths[name] = path
    return paths


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Validate and split the raw data set.")
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input/data"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/output"))
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    frame = read_input(args.input_dir)
    splits = split_dataset(frame, args.validation_fraction, args.test_fraction, args.seed)
    for name, path in write_splits(splits, args.output_dir).items():
        split = splits[name]
        positives = int(split[LABEL_COLUMN].sum())
        print(f"{name}: {len(split)} rows, {positives} positive -> {path}")


if __name__ == "__main__":
    main()
