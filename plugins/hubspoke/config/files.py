"""Reading YAML configuration files with errors that name the file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hubspoke.config.errors import ConfigError


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Parse ``path`` and return its top-level mapping, or raise :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            path, None, "file not found; create it or set HUBSPOKE_CONFIG_DIR"
        ) from None
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read the file: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(path, None, f"{where}invalid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(path, None, f"invalid YAML: {exc}") from exc
    if data is None:
        raise ConfigError(path, None, "the file is empty; it must hold a mapping")
    if not isinstance(data, dict):
        raise ConfigError(
            path, None, f"the top level must be a mapping, not a {type(data).__name__}"
        )
    return data
