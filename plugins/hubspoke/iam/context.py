"""The request context: condition keys and their values.

Condition key names are case-insensitive in AWS (``aws:SourceAccount`` is
``AWS:sourceaccount``), so keys are stored lower-cased. Every value is held as a tuple of
strings: single-valued keys are one-element tuples, multivalued keys (``aws:PrincipalOrgPaths``,
``aws:TagKeys``) longer ones, and an empty tuple is an empty set. Booleans become
``"true"``/``"false"`` and numbers their decimal text, which is how AWS compares them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

__all__ = ["ContextValue", "RequestContext", "normalize_value"]

ContextValue = str | bool | int | float | Sequence[str | bool | int | float]
"""What a caller may put in :attr:`Request.context`."""

_CURRENT_TIME = "aws:currenttime"
_EPOCH_TIME = "aws:epochtime"


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise TypeError(
        f"context values must be strings, booleans, numbers or lists of them, got {value!r}"
    )


def normalize_value(value: object) -> tuple[str, ...]:
    """Turn one context value into the tuple-of-strings form used by conditions."""
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(_scalar(item) for item in value)
    return (_scalar(value),)


class RequestContext:
    """Case-insensitive, read-only condition keys for one request.

    ``aws:CurrentTime`` and ``aws:EpochTime`` are computed on first use when the caller did
    not supply them, so requests that never test the clock never read it.
    """

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, tuple[str, ...]]) -> None:
        self._values = values

    @classmethod
    def build(
        cls, given: Mapping[str, object], defaults: Mapping[str, tuple[str, ...]]
    ) -> RequestContext:
        """Merge ``defaults`` (already normalised, lower-case keys) under ``given``."""
        values = dict(defaults)
        for key, value in given.items():
            if value is None:
                continue
            values[key.lower()] = normalize_value(value)
        return cls(values)

    def get(self, key: str) -> tuple[str, ...] | None:
        """All values of ``key`` (any case), or None when the key is absent."""
        lowered = key.lower()
        found = self._values.get(lowered)
        if found is not None:
            return found
        if lowered == _CURRENT_TIME:
            return (datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),)
        if lowered == _EPOCH_TIME:
            return (str(int(time.time())),)
        return None

    def single(self, key: str) -> str | None:
        """The value of a single-valued key, for policy variables.

        A multivalued key cannot stand in a variable; treating it as absent makes the
        statement inapplicable rather than guessing which value was meant.
        """
        found = self.get(key)
        if found is None or len(found) != 1:
            return None
        return found[0]

    def as_dict(self) -> dict[str, tuple[str, ...]]:
        """A copy of the explicit keys (lower-case), for messages and debugging."""
        return dict(self._values)
