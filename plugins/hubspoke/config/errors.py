"""The one error type a bad configuration file raises."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid.

    The message is one line: ``<file>: <key>: <what is wrong>``, so a user can fix the file
    without reading a traceback.
    """

    def __init__(self, path: Path | str, key: str | None, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        where = f"{self.path}: {key}" if key else self.path
        super().__init__(f"{where}: {problem}")


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def from_validation_error(
    path: Path | str,
    exc: ValidationError,
    *,
    names: list[str] | None = None,
    union_tags: frozenset[str] = frozenset(),
) -> ConfigError:
    """Turn pydantic's multi-line report into one line naming the first bad key.

    ``names`` maps indexes of the first list in the file to entry names, so
    ``models[0].metric_gate`` reads ``models[0] (breast-cancer).metric_gate``.
    ``union_tags`` are discriminator values pydantic inserts into locations; they name no key.
    """
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p in union_tags))
    key = _key_path(loc)
    index = next((p for p in loc if isinstance(p, int)), None)
    if names and index is not None and index < len(names):
        key = key.replace(f"[{index}]", f"[{index}] ({names[index]})", 1)
    message = str(first["msg"])
    if first.get("type") not in {"missing", "extra_forbidden"} and "input" in first:
        shown = repr(first["input"])
        if len(shown) <= 60:
            message += f" (got {shown})"
    if first.get("type") == "extra_forbidden":
        message = "unknown key; check its spelling against the documented keys"
    more = len(errors) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''} in this file)"
    return ConfigError(path, key or None, message)
