"""What an environment served, read from ledger records: the live version, the version a
default rollback restores, and the prod champion."""

from __future__ import annotations

from typing import Any

import pytest

from hubspoke.ledger import (
    LedgerRecord,
    champion_version,
    live_stack,
    previous_good_version,
    validated_versions,
)


def _records(*steps: tuple[Any, ...]) -> list[LedgerRecord]:
    """``(event, version, environment)`` or ``(event, version, environment, details)``."""
    out = []
    for seq, step in enumerate(steps, start=1):
        event, version, environment, *rest = step
        out.append(
            LedgerRecord(
                seq=seq,
                model="m",
                event=event,
                at="2026-01-01T00:00:00.000+00:00",
                actor="tests",
                version=version,
                environment=environment,
                details=rest[0] if rest else {},
            ).sealed()
        )
    return out


def _promoted(version: int, environment: str = "prod") -> list[tuple[Any, ...]]:
    return [("deployed", version, environment), ("validated", version, environment)]


def test_nothing_deployed_means_nothing_live_and_nothing_to_restore() -> None:
    records = _records(("registered", 1, None), ("approved", 1, None))
    assert live_stack(records, "prod") == []
    assert previous_good_version(records, "prod") == (None, None)
    assert champion_version(records) is None


def test_the_version_before_the_live_one_is_restored() -> None:
    records = _records(*_promoted(1), *_promoted(2))
    assert live_stack(records, "prod") == [1, 2]
    assert previous_good_version(records, "prod") == (2, 1)
    assert champion_version(records) == 2


def test_a_second_default_rollback_never_restores_the_version_the_first_undid() -> None:
    # v3 misbehaves and is rolled back to v2; the next default rollback goes to v1, not v3
    # (which was validated after v2 and is the last validated version other than v2).
    records = _records(*_promoted(1), *_promoted(2), *_promoted(3), ("rolled_back", 2, "prod"))
    assert live_stack(records, "prod") == [1, 2]
    assert previous_good_version(records, "prod") == (2, 1)
    records = _records(
        *_promoted(1),
        *_promoted(2),
        *_promoted(3),
        ("rolled_back", 2, "prod"),
        ("rolled_back", 1, "prod"),
    )
    assert previous_good_version(records, "prod") == (1, None)


def test_promote_rollback_promote_rollback() -> None:
    records = _records(
        *_promoted(1),
        *_promoted(2),
        ("rolled_back", 1, "prod"),
        *_promoted(2),
    )
    assert live_stack(records, "prod") == [1, 2]
    assert previous_good_version(records, "prod") == (2, 1)
    records = _records(
        *[(r.event, r.version, r.environment) for r in records], ("rolled_back", 1, "prod")
    )
    assert live_stack(records, "prod") == [1]
    assert previous_good_version(records, "prod") == (1, None)


def test_versions_that_never_passed_validation_are_not_restored() -> None:
    records = _records(
        *_promoted(1),
        ("deployed", 2, "prod"),
        ("deployment_failed", 2, "prod", {"task": "prod.validate"}),
        ("deployed", 3, "prod"),
    )
    assert live_stack(records, "prod") == [1, 2, 3]
    assert previous_good_version(records, "prod") == (3, 1)


def test_a_deployment_that_changed_nothing_is_not_a_new_step() -> None:
    records = _records(
        *_promoted(1),
        *_promoted(2),
        ("deployed", 2, "prod", {"action": "unchanged"}),
        ("validated", 2, "prod"),
    )
    assert live_stack(records, "prod") == [1, 2]
    assert previous_good_version(records, "prod") == (2, 1)


def test_restoring_a_version_never_live_there_puts_it_on_top() -> None:
    records = _records(
        *_promoted(1), *_promoted(2), ("validated", 5, "prod"), ("rolled_back", 5, "prod")
    )
    assert live_stack(records, "prod") == [1, 2, 5]
    assert previous_good_version(records, "prod") == (5, 2)


def test_a_version_live_twice_is_not_its_own_predecessor() -> None:
    records = _records(*_promoted(1), *_promoted(2), *_promoted(1))
    assert live_stack(records, "prod") == [1, 2, 1]
    assert previous_good_version(records, "prod") == (1, 2)


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_environments_are_separate(environment: str) -> None:
    records = _records(*_promoted(1, "staging"), *_promoted(2, "staging"), *_promoted(1, "prod"))
    expected = {"staging": (2, 1), "prod": (1, None)}[environment]
    assert previous_good_version(records, environment) == expected
    assert validated_versions(records, environment) == ({1, 2} if environment == "staging" else {1})


def test_the_champion_is_the_live_version_once_validated_in_prod() -> None:
    # v2 is live in prod but failed validation there: the champion stays v1 (what a rollback
    # restores), not the version serving unvalidated traffic.
    failed = _records(
        *_promoted(1),
        ("deployed", 2, "prod"),
        ("deployment_failed", 2, "prod", {"task": "prod.validate"}),
    )
    assert live_stack(failed, "prod") == [1, 2]
    assert champion_version(failed) == 1
    # Validated in staging only does not make a champion.
    assert champion_version(_records(*_promoted(3, "staging"))) is None
    # Rolled back from v2 to v1: v1 is champion again.
    assert champion_version(_records(*_promoted(1), *_promoted(2), ("rolled_back", 1, "prod"))) == 1
