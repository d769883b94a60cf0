"""Wildcard matching with AWS's case and segment rules.

* Actions (``s3:GetObject``) match case-insensitively; ``*`` and ``?`` are wildcards.
* Resource ARNs and ``Arn*`` condition values match case-sensitively, segment by segment:
  a wildcard in one of the first five colon-separated segments never crosses a colon, and
  the sixth segment (the resource) takes the rest of the string, colons included. The
  service segment is compared case-insensitively (``arn:aws:S3:::b`` is the S3 bucket).
  A pattern with fewer than six segments that ends in ``*`` lets that ``*`` run to the end
  (``arn:aws:*`` covers every ARN in the partition), which is the reading policy authors
  expect.
* ``StringLike`` values are plain case-sensitive globs over the whole string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from hubspoke.iam.variables import Piece

__all__ = [
    "MODE_ARN",
    "MODE_STRING",
    "ActionMatcher",
    "glob_match",
    "normalize_arn",
]

MODE_STRING = 0
MODE_ARN = 1

_ARN_SEGMENTS = 6


def _has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


@lru_cache(maxsize=16384)
def _compile(pieces: tuple[Piece, ...], mode: int) -> re.Pattern[str]:
    tokens: list[str] = []
    segment = 0
    last_live_star = -1
    for literal, text in pieces:
        for ch in text:
            if not literal and ch in "*?":
                if mode == MODE_ARN and segment < _ARN_SEGMENTS - 1:
                    tokens.append("[^:]*" if ch == "*" else "[^:]")
                else:
                    tokens.append(".*" if ch == "*" else ".")
                if ch == "*":
                    last_live_star = len(tokens) - 1
                continue
            if ch == ":":
                segment += 1
            tokens.append(re.escape(ch))
    if (
        mode == MODE_ARN
        and segment < _ARN_SEGMENTS - 1
        and last_live_star == len(tokens) - 1
        and last_live_star >= 0
    ):
        tokens[last_live_star] = ".*"
    return re.compile("".join(tokens), re.DOTALL)


def glob_match(pieces: tuple[Piece, ...], value: str, mode: int = MODE_STRING) -> bool:
    """Match ``value`` against resolved pattern ``pieces`` (case-sensitive)."""
    if len(pieces) == 1 and not pieces[0][0]:
        text = pieces[0][1]
        if text == "*":
            return True
        if not _has_wildcard(text):
            return text == value
    return _compile(pieces, mode).fullmatch(value) is not None


@lru_cache(maxsize=16384)
def normalize_arn(value: str) -> str:
    """Lower-case the service segment of an ARN; other text is returned unchanged."""
    if not value.startswith("arn:"):
        return value
    parts = value.split(":", 3)
    if len(parts) < 4 or parts[2].islower():
        return value
    parts[2] = parts[2].lower()
    return ":".join(parts)


@dataclass(frozen=True, slots=True)
class ActionMatcher:
    """The Action or NotAction list of one statement, compiled.

    Actions are case-insensitive, so everything is lower-cased once here and the request's
    action is lower-cased once per evaluation.
    """

    patterns: tuple[str, ...]
    exact: frozenset[str]
    wildcard: re.Pattern[str] | None
    everything: bool

    @classmethod
    def build(cls, patterns: Iterable[str]) -> ActionMatcher:
        lowered = tuple(p.lower() for p in patterns)
        everything = "*" in lowered
        exact = frozenset(p for p in lowered if not _has_wildcard(p))
        globs = [p for p in lowered if _has_wildcard(p)]
        wildcard = (
            re.compile(
                "|".join(f"(?:{_compile(((False, g),), MODE_STRING).pattern})" for g in globs)
            )
            if globs and not everything
            else None
        )
        return cls(lowered, exact, wildcard, everything)

    def matches(self, action_lower: str) -> bool:
        """True when the (already lower-cased) action is covered by one of the patterns."""
        if self.everything or action_lower in self.exact:
            return True
        return self.wildcard is not None and self.wildcard.fullmatch(action_lower) is not None
