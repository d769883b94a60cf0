"""The `hubspoke` console script as a user runs it: a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HUBSPOKE = str(Path(sys.executable).with_name("hubspoke"))


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HUBSPOKE, *args], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env
    )


def test_help_lists_the_command_groups() -> None:
    result = run("--help")
    assert result.returncode == 0
    for group in ("config", "localcloud", "pipeline"):
        assert group in result.stdout


def test_config_check_ok_and_bad(tmp_path: Path) -> None:
    ok = run("config", "check")
    assert ok.returncode == 0 and "1 model(s): breast-cancer" in ok.stdout
    shutil.copytree(ROOT / "config", tmp_path / "cfg")
    models = tmp_path / "cfg" / "models.yaml"
    models.write_text(models.read_text().replace("threshold: 0.95", "threshold: high"))
    bad = run("config", "check", "--config-dir", str(tmp_path / "cfg"))
    assert bad.returncode == 2
    assert bad.stderr.startswith(
        f"error: {models}: models[0] (breast-cancer).metric_gate.threshold"
    )
    assert "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1


@pytest.mark.slow
def test_run_local_trains_a_real_model(tmp_path: Path) -> None:
    result = run(
        "pipeline", "run-local", "breast-cancer", "--workdir", str(tmp_path / "run"), "--json"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["metrics"]["roc_auc"] > 0.98
    assert Path(summary["model_artifact"]).stat().st_size > 1000
    report = json.loads(Path(summary["evaluation_report"]).read_text())
    assert (
        report["binary_classification_metrics"]["roc_auc"]["value"] == summary["metrics"]["roc_auc"]
    )


def test_run_local_unknown_model_is_one_line() -> None:
    result = run("pipeline", "run-local", "no-such-model")
    assert result.returncode == 2
    assert (
        result.stderr
        == "error: no model named 'no-such-model' in config/models.yaml (known: breast-cancer)\n"
    )
