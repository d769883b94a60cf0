"""Run one command to completion or to its deadline, as a container runs its entrypoint.

The command gets a session of its own, so stopping it stops everything it started; when the
main process ends, whatever it left running is stopped too, as a container's processes end
with the container. Output goes to ``stdout.log`` and ``stderr.log`` in the given log dir.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessOutcome:
    """How a command ended; ``exit_code`` is negative (the signal) when it was killed."""

    exit_code: int
    stdout: str
    stderr: str
    duration_seconds: float
    timed_out: bool


def run_to_completion(
    command: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    log_dir: Path,
    timeout: float,
) -> ProcessOutcome:
    """Run ``command``; after ``timeout`` seconds kill its process group and report a timeout."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = log_dir / "stdout.log", log_dir / "stderr.log"
    started = time.monotonic()
    timed_out = False
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            exit_code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process.pid)
            exit_code = process.wait()
        except BaseException:
            _kill_group(process.pid)
            process.wait()
            raise
        _kill_group(process.pid)
    return ProcessOutcome(
        exit_code=exit_code,
        stdout=stdout_path.read_text(errors="replace"),
        stderr=stderr_path.read_text(errors="replace"),
        duration_seconds=time.monotonic() - started,
        timed_out=timed_out,
    )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
