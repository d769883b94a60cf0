"""Export the breast cancer diagnostic data set as the pipeline's raw input CSV.

Client-side only (runs where the pipeline is launched, not in a container). The CSV has one
column per feature, named in snake case (``mean_radius``), and a ``label`` column where
1 means malignant, the positive class. scikit-learn ships the data with 0 = malignant, so the
target is inverted here.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_breast_cancer

LABEL_COLUMN = "label"


def sanitise_feature_name(name: str) -> str:
    """Return ``name`` in snake case: lower case, runs of other characters become ``_``."""
    cleaned = re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")
    if not cleaned:
        raise ValueError(f"feature name {name!r} has no letters or digits")
    return cleaned


def load_dataset() -> pd.DataFrame:
    """Return the full data set (569 rows): 30 float features then ``label`` (1 = malignant)."""
    bunch = load_breast_cancer()
    names = [sanitise_feature_name(str(n)) for n in bunch.feature_names]
    if len(set(names)) != len(names):
        raise ValueError("sanitised feature names are not unique")
    frame = pd.DataFrame(bunch.data, columns=names)
    frame[LABEL_COLUMN] = (bunch.target == 0).astype("int64")
    return frame


def export_dataset(path: Path) -> Path:
    """Write the full data set to ``path`` as CSV with a header; same bytes on every call."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    load_dataset().to_csv(path, index=False, lineterminator="\n")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="where to write the CSV")
    args = parser.parse_args(argv)
    print(export_dataset(args.path))


if __name__ == "__main__":
    main()
