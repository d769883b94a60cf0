"""Run a step script as a local process under the SageMaker container contract.

A job gets its own ``job_dir``; every container path ``/opt/ml/...`` (in inputs, outputs,
arguments and environment values) becomes ``job_dir/opt/ml/...``. Inputs are copied in
before the run, the script is copied alone into the code dir (as SageMaker stages it, so it
cannot import its neighbours) and run with the given Python, and on success outputs are
copied out: processing outputs to their destinations, a training model dir packed as
``model.tar.gz`` with its files at the archive root.

The caller's environment is not inherited (credentials included), only ``PATH``, ``HOME``,
locale, temp and bytecode-cache settings, as a container would have its own. Mistakes of the
caller (a missing input, a path outside ``/opt/ml``, a reused ``job_dir``) raise; a script
that fails or runs out of time does not: the ``JobResult`` says so, with a SageMaker-like
``failure_reason``. Stdout and stderr are kept in ``job_dir/logs``; a job that runs past its
timeout is stopped with every process it started.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from localcloud.runtime.process import run_to_completion

log = logging.getLogger(__name__)

CONTAINER_ROOT = PurePosixPath("/opt/ml")
DEFAULT_TIMEOUT_SECONDS = 86_400.0  # SageMaker's default MaxRuntimeInSeconds
FAILURE_REASON_LIMIT = 1024  # the length SageMaker allows for FailureReason
STDERR_TAIL_LINES = 10
HOST = "algo-1"
# Host settings, not container semantics: where to find programs, locale, temp and bytecode.
_INHERITED_ENV = (
    *("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"),
    *("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX"),
)
# "/opt/ml" at the start of a path, not inside a longer one such as "/srv/opt/ml" or "/opt/mlx".
_CONTAINER_PATH = re.compile(r"(?<![\w./-])/opt/ml(?![\w.-])")
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9.\-_]+$")


@dataclass(frozen=True)
class JobResult:
    """What a finished local job reports.

    ``succeeded`` is False on a non-zero exit or a timeout, and then ``failure_reason`` says
    why. On success, ``outputs`` maps each processing output's container dir to the local dir
    it was copied to; a training job sets ``model_artifact`` (``model.tar.gz``) and, if the
    script wrote output data, ``output_artifact`` (``output.tar.gz``).
    """

    kind: str
    script: Path
    job_dir: Path
    exit_code: int
    stdout: str
    stderr: str
    duration_seconds: float
    timed_out: bool = False
    failure_reason: str | None = None
    outputs: dict[str, Path] = field(default_factory=dict)
    model_artifact: Path | None = None
    output_artifact: Path | None = None

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def map_container_paths(text: str, job_dir: Path) -> str:
    """Rewrite every ``/opt/ml`` path in ``text`` to live under ``job_dir``."""
    local_root = str(Path(job_dir).absolute() / "opt" / "ml")
    return _CONTAINER_PATH.sub(lambda _: local_root, text)


def container_to_local(container_path: str, job_dir: Path, under: str = "/opt/ml") -> Path:
    """Return the local path for an absolute container path, which must lie under ``under``."""
    path = PurePosixPath(container_path)
    prefix = PurePosixPath(under)
    if not path.is_absolute() or ".." in path.parts or not path.is_relative_to(prefix):
        raise ValueError(
            f"container path {container_path!r} must be an absolute path under {under}"
        )
    return Path(job_dir).absolute() / "opt" / "ml" / path.relative_to(CONTAINER_ROOT)


def run_processing_job(
    script: Path,
    job_dir: Path,
    inputs: Mapping[str, Path],
    outputs: Mapping[str, Path],
    arguments: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    python: str = sys.executable,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> JobResult:
    """Run ``script`` like a SageMaker Processing job.

    ``inputs`` maps container dirs under ``/opt/ml/processing`` to local sources (a dir's
    contents or a single file are copied in); ``outputs`` maps container dirs to local
    destination dirs, filled only if the job succeeds. ``arguments`` are passed as given after
    path mapping; ``env`` is added to the job's environment.
    """
    script, job_dir = Path(script), Path(job_dir)
    local_inputs = {p: container_to_local(p, job_dir, "/opt/ml/processing") for p in inputs}
    local_outputs = {p: container_to_local(p, job_dir, "/opt/ml/processing") for p in outputs}
    _check_sources(inputs)
    _create_job_dir(job_dir)
    for container_path, source in inputs.items():
        _copy_in(Path(source), local_inputs[container_path])
    for local in local_outputs.values():
        local.mkdir(parents=True, exist_ok=True)
    code = _stage_script(script, container_to_local("/opt/ml/processing/input/code", job_dir))
    _write_json(container_to_local("/opt/ml/config/resourceconfig.json", job_dir), _resources())

    command = [python, str(code), *(map_container_paths(a, job_dir) for a in arguments)]
    result = _execute("processing", script, job_dir, command, _job_env(job_dir, {}, env), timeout)
    if not result.succeeded:
        return result
    copied: dict[str, Path] = {}
    for container_path, destination in outputs.items():
        shutil.copytree(local_outputs[container_path], destination, dirs_exist_ok=True)
        copied[container_path] = Path(destination)
    return replace(result, outputs=copied)


def run_training_job(
    script: Path,
    job_dir: Path,
    channels: Mapping[str, Path],
    hyperparameters: Mapping[str, str],
    output_dir: Path,
    env: Mapping[str, str] | None = None,
    python: str = sys.executable,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> JobResult:
    """Run ``script`` like a SageMaker training job in script mode.

    Each channel's local source is copied to ``/opt/ml/input/data/<name>``. Hyperparameters
    (strings, as the CreateTrainingJob API takes them) are written to
    ``input/config/hyperparameters.json`` and passed sorted as ``--key value``; ``SM_*``
    variables are set as the SageMaker training toolkit sets them. On success the model dir is
    packed into ``output_dir/model.tar.gz`` and any output data into ``output.tar.gz``.
    """
    script, job_dir = Path(script), Path(job_dir)
    for name in channels:
        if not _CHANNEL_NAME.match(name):
            raise ValueError(f"channel name {name!r} may only use letters, digits, '.', '-', '_'")
    _check_sources({f"channel {name}": source for name, source in channels.items()})
    _create_job_dir(job_dir)
    for name, source in channels.items():
        _copy_in(Path(source), container_to_local(f"/opt/ml/input/data/{name}", job_dir))
    for container_dir in ("/opt/ml/model", "/opt/ml/output/data"):
        container_to_local(container_dir, job_dir).mkdir(parents=True, exist_ok=True)
    config_dir = "/opt/ml/input/config"
    raw_hps = {str(k): str(v) for k, v in hyperparameters.items()}
    _write_json(container_to_local(f"{config_dir}/hyperparameters.json", job_dir), raw_hps)
    _write_json(container_to_local(f"{config_dir}/resourceconfig.json", job_dir), _resources())
    data_config = {
        name: {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"}
        for name in channels
    }
    _write_json(container_to_local(f"{config_dir}/inputdataconfig.json", job_dir), data_config)
    code = _stage_script(script, container_to_local("/opt/ml/code", job_dir))

    decoded = {key: _decode_hyperparameter(value) for key, value in raw_hps.items()}
    user_args: list[str] = []
    for key in sorted(decoded):
        value = decoded[key]
        user_args += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
    sm_env = {
        "SM_MODEL_DIR": "/opt/ml/model",
        "SM_INPUT_DIR": "/opt/ml/input",
        "SM_INPUT_CONFIG_DIR": config_dir,
        "SM_OUTPUT_DIR": "/opt/ml/output",
        "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_HPS": json.dumps(decoded, sort_keys=True),
        "SM_USER_ARGS": json.dumps(user_args),
        "SM_HOSTS": json.dumps([HOST]),
        "SM_CURRENT_HOST": HOST,
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_NUM_GPUS": "0",
        "SM_MODULE_NAME": code.stem,
        **{f"SM_CHANNEL_{name.upper()}": f"/opt/ml/input/data/{name}" for name in channels},
        **{f"SM_HP_{key.upper()}": raw_hps[key] for key in raw_hps},
    }
    command = [python, str(code), *user_args]
    result = _execute("training", script, job_dir, command, _job_env(job_dir, sm_env, env), timeout)
    if not result.succeeded:
        return result
    output_dir = Path(output_dir)
    model = _pack(container_to_local("/opt/ml/model", job_dir), output_dir / "model.tar.gz")
    data_dir = container_to_local("/opt/ml/output/data", job_dir)
    output = _pack(data_dir, output_dir / "output.tar.gz") if any(data_dir.iterdir()) else None
    return replace(result, model_artifact=model, output_artifact=output)


def _create_job_dir(job_dir: Path) -> None:
    root = Path(job_dir) / "opt" / "ml"
    if root.exists():
        raise FileExistsError(f"{job_dir} already holds a job: give each job a fresh dir")
    root.mkdir(parents=True)


def _check_sources(sources: Mapping[str, Path]) -> None:
    for target, source in sources.items():
        if not Path(source).exists():
            raise FileNotFoundError(f"input for {target} not found: {source}")


def _copy_in(source: Path, destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination, dirs_exist_ok=True)
    else:
        shutil.copy2(source, destination / source.name)


def _stage_script(script: Path, code_dir: Path) -> Path:
    if not Path(script).is_file():
        raise FileNotFoundError(f"step script not found: {script}")
    code_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(script, code_dir / Path(script).name))


def _resources() -> dict[str, Any]:
    return {"current_host": HOST, "hosts": [HOST], "network_interface_name": "eth0"}


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def _decode_hyperparameter(value: str) -> Any:
    # The training toolkit JSON-decodes each value and keeps it as text when that fails.
    try:
        return json.loads(value)
    except ValueError:
        return value


def _job_env(
    job_dir: Path, container_env: Mapping[str, str], extra: Mapping[str, str] | None
) -> dict[str, str]:
    env = {name: os.environ[name] for name in _INHERITED_ENV if name in os.environ}
    env["PYTHONUNBUFFERED"] = "1"  # logs in order, as a container's log stream shows them
    for name, value in {**container_env, **(extra or {})}.items():
        env[name] = map_container_paths(str(value), job_dir)
    return env


def _execute(
    kind: str,
    script: Path,
    job_dir: Path,
    command: list[str],
    env: dict[str, str],
    timeout: float,
) -> JobResult:
    log.info("Running %s job %s in %s", kind, Path(script).name, job_dir)
    outcome = run_to_completion(command, Path(command[1]).parent, env, job_dir / "logs", timeout)
    reason = None
    if outcome.timed_out:
        reason = f"MaxRuntimeExceeded: the job ran longer than {timeout:g} s and was stopped"
    elif outcome.exit_code != 0:
        reason = _failure_reason(job_dir, outcome.exit_code, outcome.stderr)
    log.info("%s job %s ended with exit code %s", kind, script, outcome.exit_code)
    return JobResult(
        kind=kind,
        script=Path(script),
        job_dir=Path(job_dir),
        exit_code=outcome.exit_code,
        stdout=outcome.stdout,
        stderr=outcome.stderr,
        duration_seconds=outcome.duration_seconds,
        timed_out=outcome.timed_out,
        failure_reason=reason,
    )


def _failure_reason(job_dir: Path, exit_code: int, stderr: str) -> str:
    # A script may explain itself in /opt/ml/output/failure, as SageMaker algorithms do.
    failure_file = Path(job_dir) / "opt" / "ml" / "output" / "failure"
    detail = failure_file.read_text(errors="replace").strip() if failure_file.is_file() else ""
    if not detail:
        tail = [line for line in stderr.splitlines() if line.strip()][-STDERR_TAIL_LINES:]
        detail = f"exit code {exit_code}" + (": " + "\n".join(tail) if tail else "")
    prefix = "AlgorithmError: "
    if len(prefix) + len(detail) > FAILURE_REASON_LIMIT:
        # The end of stderr holds the exception; keep it rather than the start.
        detail = "..." + detail[-(FAILURE_REASON_LIMIT - len(prefix) - 3) :]
    return prefix + detail


def _pack(source_dir: Path, archive: Path) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for entry in sorted(source_dir.iterdir()):
            tar.add(entry, arcname=entry.name)
    return archive
