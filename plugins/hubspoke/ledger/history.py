"""What an environment served, read from the ledger: the live version, the version a rollback
should restore, and the prod champion.

An environment's history is a stack of versions. A ``deployed`` record puts its version on
top (a deployment that changed nothing leaves the stack as it is). A ``rolled_back`` record
restores an earlier version: every version above it on the stack is taken off, since the
rollback undid them; restoring a version that was never on the stack puts it on top. The
top of the stack is the version live now, and the version a default rollback restores is the
nearest one below it that passed validation in that environment.

Example: v1, v2 and v3 deployed, v3 misbehaves and is rolled back to v2: the stack is
``[v1, v2]``; a second rollback restores v1, never v3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hubspoke.ledger.records import LedgerRecord

LIVE_EVENTS = frozenset({"deployed", "rolled_back"})


def live_stack(records: Iterable[LedgerRecord], environment: str) -> list[int]:
    """The versions ``environment`` served, oldest first; the last one is live now."""
    stack: list[int] = []
    for record in records:
        if record.environment != environment or record.event not in LIVE_EVENTS:
            continue
        version = record.version
        if version is None or (stack and stack[-1] == version):
            continue
        if record.event == "rolled_back" and version in stack:
            del stack[stack.index(version) + 1 :]
        else:
            stack.append(version)
    return stack


def validated_versions(records: Iterable[LedgerRecord], environment: str) -> set[int]:
    """The versions that passed validation in ``environment`` at least once."""
    return {
        r.version
        for r in records
        if r.event == "validated" and r.environment == environment and r.version is not None
    }


def previous_good_version(
    records: Iterable[LedgerRecord], environment: str
) -> tuple[int | None, int | None]:
    """(version live in ``environment``, the validated version before it, or None)."""
    records = list(records)
    stack = live_stack(records, environment)
    if not stack:
        return None, None
    good = validated_versions(records, environment)
    earlier = [v for v in stack[:-1] if v in good and v != stack[-1]]
    return stack[-1], (earlier[-1] if earlier else None)


def champion_version(records: Iterable[LedgerRecord], environment: str = "prod") -> int | None:
    """The newest version on ``environment``'s stack that passed validation there: the live
    version once it is validated; while the live version has not passed (its validation
    failed), the good version it replaced."""
    records = list(records)
    good = validated_versions(records, environment)
    passed = [v for v in live_stack(records, environment) if v in good]
    return passed[-1] if passed else None
