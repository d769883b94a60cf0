"""Policy variables: ``${aws:username}``, ``${aws:PrincipalTag/team, 'default'}``, ``${*}``.

AWS substitutes variables from the request context in the Resource element and in the
values of String, ARN and Bool conditions, and only when the policy's ``Version`` is
``2012-10-17`` (older or missing versions keep ``${...}`` as literal text).

A template resolves to *pieces*: ``(literal, text)`` pairs. Text written in the policy keeps
its wildcard meaning (``*``, ``?``) for Like-style matching; text produced by a variable or
by the escapes ``${*}``, ``${?}``, ``${$}`` is literal, so a user name containing ``*`` can
never widen a pattern.

A variable whose key is absent from the request (and that has no default) makes the
statement invalid for that request: AWS documents that "any attempt to match it fails and
causes the statement to be invalid". :class:`Unresolved` carries that outcome to the
statement evaluator, which then treats the statement as not applying.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Piece", "Template", "Unresolved", "compile_template", "pieces_text"]

Piece = tuple[bool, str]
"""``(literal, text)``: literal text never acts as a wildcard."""

_SPECIAL = {"*": "*", "?": "?", "$": "$"}

# Part kinds inside a compiled template.
_TEXT = 0  # policy text: wildcards stay live
_FIXED = 1  # ${*}, ${?}, ${$}: a literal character
_VAR = 2  # a context key, resolved per request


class Unresolved(Exception):
    """A policy variable names a key that the request context does not carry."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True, slots=True)
class Template:
    """A policy string compiled once; :meth:`resolve` runs per request."""

    raw: str
    parts: tuple[tuple[int, str, str | None], ...]
    has_variables: bool

    def resolve(self, lookup: Callable[[str], str | None]) -> tuple[Piece, ...]:
        """Substitute variables using ``lookup(key) -> value or None``.

        Raises :class:`Unresolved` when a key is missing and the variable has no default.
        """
        if not self.has_variables:
            return ((False, self.raw),)
        pieces: list[Piece] = []
        for kind, text, default in self.parts:
            if kind == _TEXT:
                pieces.append((False, text))
            elif kind == _FIXED:
                pieces.append((True, text))
            else:
                value = lookup(text)
                if value is None:
                    if default is None:
                        raise Unresolved(text)
                    value = default
                pieces.append((True, value))
        return tuple(pieces)


def pieces_text(pieces: tuple[Piece, ...]) -> str:
    """The plain string a resolved template stands for (for equality comparisons)."""
    if len(pieces) == 1:
        return pieces[0][1]
    return "".join(text for _, text in pieces)


def _parse_variable(body: str) -> tuple[int, str, str | None]:
    """Parse what sits between ``${`` and ``}``."""
    if body in _SPECIAL:
        return (_FIXED, _SPECIAL[body], None)
    key, sep, default = body.partition(",")
    key = key.strip()
    if not sep:
        return (_VAR, key, None)
    default = default.strip()
    # Defaults are written in single quotes: ${aws:userid, 'anonymous'}.
    if len(default) >= 2 and default[0] == default[-1] == "'":
        default = default[1:-1]
    return (_VAR, key, default)


@lru_cache(maxsize=8192)
def compile_template(text: str, variables_enabled: bool = True) -> Template:
    """Compile ``text``; with ``variables_enabled`` False the text stays literal policy text."""
    if not variables_enabled or "${" not in text:
        return Template(text, ((_TEXT, text, None),), False)
    parts: list[tuple[int, str, str | None]] = []
    pos = 0
    while True:
        start = text.find("${", pos)
        end = text.find("}", start + 2) if start >= 0 else -1
        if start < 0 or end < 0:
            if pos < len(text):
                parts.append((_TEXT, text[pos:], None))
            break
        if start > pos:
            parts.append((_TEXT, text[pos:start], None))
        parts.append(_parse_variable(text[start + 2 : end]))
        pos = end + 1
    return Template(text, tuple(parts), True)
