"""The step scripts run alone in a container: they may import only what the image has."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import pipelines.breast_cancer

SCRIPTS = ("preprocess.py", "train.py", "evaluate.py", "inference.py")
IMAGE_PACKAGES = {"numpy", "pandas", "sklearn", "joblib", "scipy"}


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_imports_only_stdlib_and_image_packages(script: str) -> None:
    path = Path(pipelines.breast_cancer.__file__).parent / script
    tree = ast.parse(path.read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{script} uses a relative import"
            imported.add((node.module or "").split(".")[0])
    foreign = imported - IMAGE_PACKAGES - set(sys.stdlib_module_names) - {"__future__"}
    assert not foreign, f"{script} imports {sorted(foreign)}"
