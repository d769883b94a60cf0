"""Unit tests for the client-side data set export."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from pipelines.breast_cancer.dataset import export_dataset, sanitise_feature_name


def test_sanitise_feature_name() -> None:
    assert sanitise_feature_name("mean radius") == "mean_radius"
    assert sanitise_feature_name(" Worst Concave-Points ") == "worst_concave_points"
    with pytest.raises(ValueError, match="no letters or digits"):
        sanitise_feature_name(" - ")


def test_export_is_deterministic_and_labels_malignant_as_one(tmp_path: Path) -> None:
    first = export_dataset(tmp_path / "a" / "data.csv")
    second = export_dataset(tmp_path / "b.csv")
    assert first.read_bytes() == second.read_bytes()
    frame = pd.read_csv(first)
    bunch = load_breast_cancer()
    assert frame.shape == (569, 31)
    assert frame.columns[0] == "mean_radius" and frame.columns[-1] == "label"
    # scikit-learn codes malignant as 0; the export makes it the positive class.
    assert (frame["label"] == (bunch.target == 0)).all()
    assert frame["label"].sum() == 212
    assert (frame.drop(columns="label").to_numpy() == bunch.data).all()
