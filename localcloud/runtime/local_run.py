"""Run a model's pipeline (preprocess → train → evaluate) locally, step by step.

Each step is the model's own script (``preprocess.py``, ``train.py``, ``evaluate.py`` in the
pipeline dir) run under the SageMaker container contract by ``contract``, with the same
container paths the SageMaker pipeline uses. Nothing here knows a particular model: the
scripts' defaults apply unless hyperparameters are given.

Layout under ``workdir`` (which must be empty or absent)::

    jobs/<step>/           one job dir per step (logs in jobs/<step>/logs)
    preprocess/{train,validation,test}/
    train/model.tar.gz     (and output.tar.gz)
    evaluation/{evaluation.json,predictions.csv}
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from localcloud.runtime.contract import JobResult, run_processing_job, run_training_job

SPLITS = ("train", "validation", "test")


class LocalStepError(RuntimeError):
    """A pipeline step failed; ``step`` names it and ``result`` holds its logs."""

    def __init__(self, step: str, result: JobResult) -> None:
        super().__init__(
            f"step {step!r} failed: {result.failure_reason} (logs in {result.job_dir / 'logs'})"
        )
        self.step = step
        self.result = result


@dataclass(frozen=True)
class LocalRunResult:
    """Artifacts of a local run; ``metrics`` maps each evaluation metric to its value."""

    model_artifact: Path
    evaluation_report: Path
    predictions: Path
    metrics: dict[str, float]
    steps: dict[str, JobResult]
    duration_seconds: float


def read_metrics(report_path: Path) -> dict[str, float]:
    """Return ``{metric: value}`` from an ``evaluation.json`` in the Model Quality shape."""
    report = json.loads(report_path.read_text())
    metrics = {
        name: float(entry["value"])
        for name, entry in report["binary_classification_metrics"].items()
        if isinstance(entry, dict) and "value" in entry
    }
    metrics["test_rows"] = float(report["test_rows"])
    return metrics


def run_pipeline_locally(
    pipeline_dir: Path,
    data_csv: Path,
    workdir: Path,
    hyperparameters: Mapping[str, str] | None = None,
) -> LocalRunResult:
    """Run preprocess, train and evaluate on ``data_csv``; raise ``LocalStepError`` on failure.

    ``hyperparameters`` go to the training step as SageMaker passes them (string values).
    """
    pipeline_dir, data_csv, workdir = Path(pipeline_dir), Path(data_csv), Path(workdir)
    scripts = {step: pipeline_dir / f"{step}.py" for step in ("preprocess", "train", "evaluate")}
    missing = [str(path) for path in scripts.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"pipeline dir {pipeline_dir} lacks step scripts: {missing}")
    if not data_csv.is_file():
        raise FileNotFoundError(f"data file not found: {data_csv}")
    if workdir.exists() and any(workdir.iterdir()):
        raise FileExistsError(f"workdir {workdir} is not empty: use a fresh one per run")

    started = time.monotonic()
    steps: dict[str, JobResult] = {}
    splits = {name: workdir / "preprocess" / name for name in SPLITS}
    steps["preprocess"] = _checked(
        "preprocess",
        run_processing_job(
            scripts["preprocess"],
            workdir / "jobs" / "preprocess",
            inputs={"/opt/ml/processing/input/data": data_csv},
            outputs={f"/opt/ml/processing/output/{name}": path for name, path in splits.items()},
            arguments=[
                "--input-dir=/opt/ml/processing/input/data",
                "--output-dir=/opt/ml/processing/output",
            ],
        ),
    )
    steps["train"] = _checked(
        "train",
        run_training_job(
            scripts["train"],
            workdir / "jobs" / "train",
            channels={"train": splits["train"], "validation": splits["validation"]},
            hyperparameters=dict(hyperparameters or {}),
            output_dir=workdir / "train",
        ),
    )
    model_artifact = steps["train"].model_artifact
    if model_artifact is None:
        raise LocalStepError("train", _with_reason(steps["train"], "it packed no model"))
    evaluation_dir = workdir / "evaluation"
    steps["evaluate"] = _checked(
        "evaluate",
        run_processing_job(
            scripts["evaluate"],
            workdir / "jobs" / "evaluate",
            inputs={
                "/opt/ml/processing/model": model_artifact,
                "/opt/ml/processing/test": splits["test"],
            },
            outputs={"/opt/ml/processing/evaluation": evaluation_dir},
            arguments=[
                "--model-dir=/opt/ml/processing/model",
                "--test-dir=/opt/ml/processing/test",
                "--output-dir=/opt/ml/processing/evaluation",
            ],
        ),
    )
    report = evaluation_dir / "evaluation.json"
    predictions = evaluation_dir / "predictions.csv"
    for path in (report, predictions):
        if not path.is_file():
            raise LocalStepError(
                "evaluate", _with_reason(steps["evaluate"], f"it wrote no {path.name}")
            )
    return LocalRunResult(
        model_artifact=model_artifact,
        evaluation_report=report,
        predictions=predictions,
        metrics=read_metrics(report),
        steps=steps,
        duration_seconds=time.monotonic() - started,
    )


def _checked(step: str, result: JobResult) -> JobResult:
    if not result.succeeded:
        raise LocalStepError(step, result)
    return result


def _with_reason(result: JobResult, reason: str) -> JobResult:
    return replace(result, failure_reason=reason)


def _parse_hyperparameter(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key, value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a model's pipeline steps locally.")
    parser.add_argument("--pipeline-dir", type=Path, required=True)
    parser.add_argument("--data-csv", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument(
        "--hyperparameter",
        type=_parse_hyperparameter,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="training hyperparameter, repeatable",
    )
    args = parser.parse_args(argv)
    try:
        result = run_pipeline_locally(
            args.pipeline_dir, args.data_csv, args.workdir, dict(args.hyperparameter)
        )
    except (LocalStepError, FileNotFoundError, FileExistsError) as error:
        parser.exit(1, f"error: {error}\n")
    summary: dict[str, Any] = {
        "metrics": result.metrics,
        "model_artifact": str(result.model_artifact),
        "evaluation_report": str(result.evaluation_report),
        "predictions": str(result.predictions),
        "step_seconds": {s: round(r.duration_seconds, 2) for s, r in result.steps.items()},
        "total_seconds": round(result.duration_seconds, 2),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
