"""The code revision recorded as lineage on every registered model version."""

from __future__ import annotations

import os
import subprocess

from hubspoke.config import project_root

REVISION_ENV = "HUBSPOKE_GIT_REVISION"


def code_revision() -> str:
    """``$HUBSPOKE_GIT_REVISION`` (set when packaging for MWAA), else the checkout's HEAD."""
    if os.environ.get(REVISION_ENV):
        return os.environ[REVISION_ENV]
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_root(),
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"
