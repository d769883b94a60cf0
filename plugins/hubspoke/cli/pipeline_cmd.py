"""``hubspoke pipeline``: work with a model's SageMaker pipeline on this machine."""

from __future__ import annotations

import importlib
import json
import tempfile
import time
from pathlib import Path

import click

from hubspoke.cli.errors import UserError
from hubspoke.config import load_models, models_root, project_root


@click.group()
def pipeline() -> None:
    """A model's pipeline: run its steps locally."""


def _hyperparameter(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{text!r} is not KEY=VALUE")
    return key.replace("_", "-"), value


@pipeline.command("run-local")
@click.argument("model")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Empty or new folder for the run (default: runs/<model>-<time>).",
)
@click.option(
    "--data-csv",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Input data (default: the model's bundled data set, exported by its dataset.py).",
)
@click.option(
    "--hyperparameter",
    "-p",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a hyperparameter from config/models.yaml; repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def run_local(
    model: str,
    workdir: Path | None,
    data_csv: Path | None,
    overrides: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run MODEL's preprocess -> train -> evaluate steps locally under the SageMaker
    container contract, and print the real metrics."""
    from localcloud.runtime.local_run import LocalStepError, run_pipeline_locally

    try:
        config = load_models().get(model)
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None
    pipeline_dir = models_root() / config.pipeline
    workdir = workdir or project_root() / "runs" / f"{model}-{time.strftime('%Y%m%d-%H%M%S')}"
    # The runner wants an empty workdir, so exported sample data lives beside it until done.
    scratch = tempfile.TemporaryDirectory(prefix="hubspoke-data-")
    if data_csv is None:
        package = config.pipeline.strip("/").replace("/", ".")
        try:
            dataset = importlib.import_module(f"{package}.dataset")
        except ModuleNotFoundError:
            raise UserError(
                f"{config.pipeline} has no dataset.py to export sample data; pass --data-csv"
            ) from None
        data_csv = dataset.export_dataset(Path(scratch.name) / "data.csv")
    hyperparameters = {k.replace("_", "-"): str(v) for k, v in config.hyperparameters.items()}
    hyperparameters.update(_hyperparameter(text) for text in overrides)
    if not as_json:
        click.echo(f"running {model} locally in {workdir}")
    try:
        result = run_pipeline_locally(pipeline_dir, data_csv, workdir, hyperparameters)
    except (LocalStepError, FileExistsError) as exc:
        raise UserError(str(exc)) from None
    finally:
        scratch.cleanup()
    step_seconds = {s: round(r.duration_seconds, 2) for s, r in result.steps.items()}
    summary = {
        "model": model,
        "metrics": result.metrics,
        "model_artifact": str(result.model_artifact),
        "evaluation_report": str(result.evaluation_report),
        "predictions": str(result.predictions),
        "step_seconds": step_seconds,
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    for step, seconds in step_seconds.items():
        click.echo(f"  {step:<11} {seconds:6.2f} s")
    gate = config.metric_gate
    value = result.metrics.get(gate.metric)
    click.echo(
        "metrics (test split): "
        + ", ".join(f"{k}={v:.4f}" for k, v in result.metrics.items() if k != "test_rows")
    )
    if value is not None:
        verdict = "passes" if gate.passes(value) else "FAILS"
        click.echo(f"gate: {gate.metric} {value:.4f} {verdict} the threshold {gate.threshold}")
    click.echo(f"model artifact: {result.model_artifact}")
    click.echo(f"evaluation:     {result.evaluation_report}")
