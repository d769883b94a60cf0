"""Which user script a job runs, read from what the SageMaker SDK ships with the job.

The container image is not pulled locally, so its entrypoint cannot run. What it would have
run is recovered from the job's own inputs: a processing job started through the SDK's
``runproc.sh`` (FrameworkProcessor) unpacks ``sourcedir.tar.gz`` and runs
``python3 <script> "$@"``; a training job built by ``ModelTrainer`` runs
``sm_drivers/sm_train.sh``, whose driver runs the ``entry_script`` of ``sourcecode.json``.
A job whose entrypoint is neither (nor a plain ``python3 <script.py>``) cannot run here and
says so.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

_RUNPROC_PYTHON = re.compile(r"^\s*python3?\s+(\S+\.py)\b", re.MULTILINE)
_RUNPROC_CD = re.compile(r"^\s*cd\s+(\S+)", re.MULTILINE)
SOURCE_ARCHIVE = "sourcedir.tar.gz"


class EntrypointError(ValueError):
    """The job's entrypoint cannot be run locally; the message says why."""


def _local(container_path: str, staged: Mapping[str, Path]) -> Path | None:
    """The staged local file for a container path under one of the inputs' LocalPaths."""
    path = PurePosixPath(container_path)
    for local_path, directory in staged.items():
        root = PurePosixPath(local_path)
        if path == root or path.is_relative_to(root):
            return directory / path.relative_to(root)
    return None


def unpack_source(directory: Path) -> None:
    """Unpack ``sourcedir.tar.gz`` in place, as ``runproc.sh`` does before running the script."""
    archive = directory / SOURCE_ARCHIVE
    if archive.is_file():
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(directory, filter="data")


def processing_script(entrypoint: Sequence[str], staged: Mapping[str, Path]) -> Path:
    """The user script of a processing job.

    ``staged`` maps each input's container ``LocalPath`` to the local dir it was staged in.
    """
    if not entrypoint:
        raise EntrypointError(
            "the job has no ContainerEntrypoint; localcloud does not run container images, "
            "only the Python script a job's entrypoint names"
        )
    target = entrypoint[-1]
    local = _local(target, staged)
    if local is None or not local.is_file():
        raise EntrypointError(f"entrypoint {target} is not among the job's inputs")
    if local.suffix == ".py":
        return local
    if local.name != "runproc.sh":
        raise EntrypointError(
            f"entrypoint {' '.join(entrypoint)} is not a Python script or the SDK's runproc.sh"
        )
    text = local.read_text()
    scripts = _RUNPROC_PYTHON.findall(text)
    directories = _RUNPROC_CD.findall(text)
    if not scripts or not directories:
        raise EntrypointError("runproc.sh names no code dir and python3 script to run")
    code_dir = _local(directories[-1], staged)
    if code_dir is None:
        raise EntrypointError(f"runproc.sh runs in {directories[-1]}, which no input fills")
    unpack_source(code_dir)
    script = code_dir / scripts[-1]
    if not script.is_file():
        raise EntrypointError(f"runproc.sh runs {scripts[-1]}, which the code input lacks")
    return script


def training_script(channels: Mapping[str, Path]) -> Path:
    """The entry script of a ``ModelTrainer`` job, from ``sourcecode.json`` of its channels."""
    for name in ("sm_drivers", "code"):
        config = channels.get(name, Path("/nonexistent")) / "sourcecode.json"
        if config.is_file():
            break
    else:
        raise EntrypointError(
            "no sourcecode.json in the sm_drivers or code channel: localcloud runs training "
            "jobs built with SourceCode(entry_script=...)"
        )
    source = json.loads(config.read_text())
    if source.get("command"):
        raise EntrypointError(
            f"SourceCode.command {source['command']!r} is not supported locally; use entry_script"
        )
    entry = source.get("entry_script")
    if not entry or "code" not in channels:
        raise EntrypointError("sourcecode.json names no entry_script, or there is no code channel")
    script = channels["code"] / entry
    if not script.is_file():
        raise EntrypointError(f"entry script {entry} is not in the code channel")
    return script
