"""The one error a template that cannot be read or resolved raises."""

from __future__ import annotations

from collections.abc import Sequence


class TemplateError(ValueError):
    """A template is unreadable, or an intrinsic in it cannot be resolved.

    The message is one line, ``<template>: <path>: <problem>``, where ``path`` is the dotted
    location inside the template (``Resources.Bucket.Properties.Tags[0].Value``) so the author
    can go straight to it.
    """

    def __init__(self, template: str, path: str, problem: str) -> None:
        self.template = template
        self.path = path
        self.problem = problem
        where = f"{template}: {path}" if path else template
        super().__init__(f"{where}: {problem}")


def format_path(parts: Sequence[str | int]) -> str:
    """``["Resources", "B", "Tags", 0]`` → ``Resources.B.Tags[0]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
