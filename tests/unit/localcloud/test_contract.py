"""Unit tests for running scripts under the SageMaker container contract."""

from __future__ import annotations

import json
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

from localcloud.runtime.contract import (
    container_to_local,
    map_container_paths,
    run_processing_job,
    run_training_job,
)


def write_script(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(body))
    return path


def test_map_container_paths_rewrites_only_opt_ml_paths(tmp_path: Path) -> None:
    root = str(tmp_path / "opt" / "ml")
    assert map_container_paths("/opt/ml/processing/input", tmp_path) == f"{root}/processing/input"
    assert map_container_paths("--model-dir=/opt/ml/model", tmp_path) == f"--model-dir={root}/model"
    assert map_container_paths("a:/opt/ml/x,/opt/ml", tmp_path) == f"a:{root}/x,{root}"
    for untouched in ("/opt/mlx/a", "/srv/opt/ml/a", "opt/ml/a", "s3://b/opt/ml/a", "0.5"):
        assert map_container_paths(untouched, tmp_path) == untouched


def test_container_to_local_refuses_paths_outside_the_container_root(tmp_path: Path) -> None:
    assert container_to_local("/opt/ml/model", tmp_path) == tmp_path / "opt/ml/model"
    for bad in ("opt/ml/model", "/tmp/x", "/opt/ml/../etc", "/opt/mlx"):
        with pytest.raises(ValueError, match="must be an absolute path under /opt/ml"):
            container_to_local(bad, tmp_path)
    with pytest.raises(ValueError, match="under /opt/ml/processing"):
        container_to_local("/opt/ml/model", tmp_path, under="/opt/ml/processing")


PROCESSING_SCRIPT = """
    import argparse, json, os, sys
    from pathlib import Path
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-dir")
    parser.add_argument("--output-dir")
    args = parser.parse_args()
    names = sorted(p.name for p in Path(args.input_dir).iterdir())
    report = {
        "argv": sys.argv[1:],
        "inputs": names,
        "single": Path("/opt/ml/processing/single").exists(),
        "cwd": os.getcwd(),
        "report_to": os.environ.get("REPORT_TO"),
        "secret": os.environ.get("CALLER_SECRET"),
    }
    Path(args.output_dir, "report.json").write_text(json.dumps(report))
"""


def test_processing_job_maps_paths_and_copies_inputs_and_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLER_SECRET", "must-not-leak")
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.csv").write_text("x\n1\n")
    (source / "b.csv").write_text("x\n2\n")
    single = tmp_path / "one.txt"
    single.write_text("file input")
    job_dir, destination = tmp_path / "job", tmp_path / "dest"
    script = write_script(tmp_path, "step.py", PROCESSING_SCRIPT)

    result = run_processing_job(
        script,
        job_dir,
        inputs={"/opt/ml/processing/input/data": source, "/opt/ml/processing/single": single},
        outputs={"/opt/ml/processing/output": destination},
        arguments=[
            "--input-dir",
            "/opt/ml/processing/input/data",
            "--output-dir=/opt/ml/processing/output",
        ],
        env={"REPORT_TO": "/opt/ml/processing/output/report.json"},
    )

    assert result.succeeded, result.failure_reason
    assert (result.exit_code, result.failure_reason, result.kind) == (0, None, "processing")
    assert result.outputs == {"/opt/ml/processing/output": destination}
    report = json.loads((destination / "report.json").read_text())
    root = job_dir / "opt" / "ml"
    assert report["argv"] == [
        "--input-dir",
        f"{root}/processing/input/data",
        f"--output-dir={root}/processing/output",
    ]
    assert report["inputs"] == ["a.csv", "b.csv"]
    # The single file is staged inside its container dir, which the script sees mapped.
    assert (root / "processing" / "single" / "one.txt").read_text() == "file input"
    assert report["cwd"] == str(root / "processing" / "input" / "code")
    assert report["report_to"] == f"{root}/processing/output/report.json"
    assert report["secret"] is None
    assert (job_dir / "logs" / "stdout.log").is_file()


def test_script_runs_alone_without_its_neighbours(tmp_path: Path) -> None:
    write_script(tmp_path, "neighbour.py", "VALUE = 1\n")
    script = write_script(tmp_path, "step.py", "import neighbour\n")
    result = run_processing_job(script, tmp_path / "job", inputs={}, outputs={})
    assert not result.succeeded
    assert "No module named 'neighbour'" in (result.failure_reason or "")


TRAINING_SCRIPT = """
    import json, os, sys
    from pathlib import Path
    seen = {k: v for k, v in os.environ.items() if k.startswith("SM_")}
    seen["argv"] = sys.argv[1:]
    seen["train_files"] = sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"]))
    Path(os.environ["SM_MODEL_DIR"], "seen.json").write_text(json.dumps(seen))
    Path(os.environ["SM_MODEL_DIR"], "weights").mkdir()
    Path(os.environ["SM_MODEL_DIR"], "weights", "w.bin").write_bytes(b"0101")
    Path(os.environ["SM_OUTPUT_DATA_DIR"], "metrics.json").write_text("{}")
"""


def test_training_job_sets_the_toolkit_environment_and_packs_the_model(tmp_path: Path) -> None:
    for name in ("train", "validation"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.csv").write_text("x\n1\n")
    job_dir, output_dir = tmp_path / "job", tmp_path / "out"
    script = write_script(tmp_path, "fit.py", TRAINING_SCRIPT)

    result = run_training_job(
        script,
        job_dir,
        channels={"train": tmp_path / "train", "validation": tmp_path / "validation"},
        hyperparameters={"n-estimators": "200", "learning-rate": "0.1", "name": "abc"},
        output_dir=output_dir,
    )

    assert result.succeeded, result.failure_reason
    assert result.model_artifact == output_dir / "model.tar.gz"
    with tarfile.open(result.model_artifact) as tar:
        assert sorted(tar.getnames()) == ["seen.json", "weights", "weights/w.bin"]
        member = tar.extractfile("seen.json")
        assert member is not None
        seen = json.loads(member.read())
    root = job_dir / "opt" / "ml"
    assert seen["SM_MODEL_DIR"] == f"{root}/model"
    assert seen["SM_CHANNEL_TRAIN"] == f"{root}/input/data/train"
    assert seen["SM_CHANNEL_VALIDATION"] == f"{root}/input/data/validation"
    assert seen["SM_OUTPUT_DATA_DIR"] == f"{root}/output/data"
    assert seen["SM_OUTPUT_DIR"] == f"{root}/output"
    assert seen["SM_INPUT_DIR"] == f"{root}/input"
    assert json.loads(seen["SM_CHANNELS"]) == ["train", "validation"]
    assert json.loads(seen["SM_HPS"]) == {"learning-rate": 0.1, "n-estimators": 200, "name": "abc"}
    assert json.loads(seen["SM_HOSTS"]) == ["algo-1"] and seen["SM_CURRENT_HOST"] == "algo-1"
    assert int(seen["SM_NUM_CPUS"]) >= 1
    assert seen["SM_HP_N-ESTIMATORS"] == "200"
    assert seen["argv"] == ["--learning-rate", "0.1", "--n-estimators", "200", "--name", "abc"]
    assert seen["train_files"] == ["train.csv"]
    hps_file = root / "input" / "config" / "hyperparameters.json"
    assert json.loads(hps_file.read_text()) == {
        "n-estimators": "200",
        "learning-rate": "0.1",
        "name": "abc",
    }
    assert result.output_artifact == output_dir / "output.tar.gz"
    with tarfile.open(result.output_artifact) as tar:
        assert tar.getnames() == ["metrics.json"]


FAILING_SCRIPT = """
    import sys
    print("starting", flush=True)
    for i in range(30):
        print(f"noise line {i}", file=sys.stderr)
    raise RuntimeError("the data is unusable: column 'x' is empty")
"""


def test_failure_returns_a_reason_from_the_end_of_stderr(tmp_path: Path) -> None:
    script = write_script(tmp_path, "fail.py", FAILING_SCRIPT)
    destination = tmp_path / "dest"
    result = run_processing_job(
        script,
        tmp_path / "job",
        inputs={},
        outputs={"/opt/ml/processing/output": destination},
    )
    assert not result.succeeded and not result.timed_out
    assert result.exit_code == 1
    reason = result.failure_reason or ""
    assert reason.startswith("AlgorithmError: exit code 1: ")
    assert reason.endswith("RuntimeError: the data is unusable: column 'x' is empty")
    assert "noise line 29" in reason and "noise line 0\n" not in reason
    assert result.stdout == "starting\n"
    assert result.outputs == {} and not destination.exists()


def test_failure_reason_is_capped_and_keeps_the_end(tmp_path: Path) -> None:
    script = write_script(tmp_path, "fail.py", "import sys\nsys.exit('x' * 5000 + ' THE END')\n")
    result = run_processing_job(script, tmp_path / "job", inputs={}, outputs={})
    reason = result.failure_reason or ""
    assert len(reason) <= 1024
    assert reason.startswith("AlgorithmError: ...") and reason.endswith("THE END")


def test_training_failure_file_is_the_reason(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        "fit.py",
        """
        import os, sys
        from pathlib import Path
        Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text("ValueError: bad channel")
        sys.exit(2)
        """,
    )
    result = run_training_job(script, tmp_path / "job", {}, {}, tmp_path / "out")
    assert (result.exit_code, result.failure_reason) == (
        2,
        "AlgorithmError: ValueError: bad channel",
    )
    assert result.model_artifact is None and not (tmp_path / "out").exists()


def test_timeout_stops_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = write_script(
        tmp_path,
        "hang.py",
        f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(60)
        """,
    )
    started = time.monotonic()
    result = run_processing_job(script, tmp_path / "job", inputs={}, outputs={}, timeout=3)
    assert time.monotonic() - started < 15
    assert result.timed_out and not result.succeeded
    assert (
        result.failure_reason == "MaxRuntimeExceeded: the job ran longer than 3 s and was stopped"
    )
    assert _is_gone(int(pid_file.read_text()))


def _is_gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return True
        if "\nState:\tZ" in status:  # killed, waiting to be reaped by init
            return True
        time.sleep(0.1)
    return False


def test_caller_mistakes_raise_before_anything_runs(tmp_path: Path) -> None:
    script = write_script(tmp_path, "ok.py", "print('ran')\n")
    with pytest.raises(FileNotFoundError, match="input for /opt/ml/processing/in not found"):
        run_processing_job(
            script, tmp_path / "j1", inputs={"/opt/ml/processing/in": tmp_path / "nope"}, outputs={}
        )
    assert not (tmp_path / "j1").exists()
    with pytest.raises(ValueError, match="under /opt/ml/processing"):
        run_processing_job(script, tmp_path / "j2", inputs={"/opt/ml/model": tmp_path}, outputs={})
    with pytest.raises(ValueError, match="channel name 'bad name'"):
        run_training_job(script, tmp_path / "j3", {"bad name": tmp_path}, {}, tmp_path / "out")
    assert run_processing_job(script, tmp_path / "j4", inputs={}, outputs={}).succeeded
    with pytest.raises(FileExistsError, match="already holds a job"):
        run_processing_job(script, tmp_path / "j4", inputs={}, outputs={})
