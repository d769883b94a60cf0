"""Checking a model's ledger: the chain is intact and approvals precede deployments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubspoke.ledger.records import GENESIS, LedgerRecord, canonical_hash


@dataclass(frozen=True)
class VerificationResult:
    model: str
    records: int
    problem: str | None = None  # names the first bad record
    key: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_records(model: str, raw: list[tuple[str, dict[str, Any] | None]]) -> VerificationResult:
    """Walk the chain in order; stop at the first record that breaks a rule.

    Rules: every record parses and its hash matches its content; ``prev_hash`` is the hash of
    the record before; sequence numbers count 1, 2, 3 with no gap; the key matches the
    sequence; every ``deployed`` record of a version comes after an ``approved`` record of
    that version, and a prod deployment after a prod approval as well.
    """
    prev_hash = GENESIS
    approved: set[tuple[int | None, str | None]] = set()
    for index, (key, data) in enumerate(raw, start=1):
        problem, record = _check(index, key, data, prev_hash, approved)
        if problem is not None or record is None:
            return VerificationResult(model, index - 1, f"{key}: {problem}", key)
        if record.event == "approved":
            approved.add((record.version, record.environment))
        prev_hash = record.hash
    return VerificationResult(model, len(raw))


def _check(
    index: int,
    key: str,
    data: dict[str, Any] | None,
    prev_hash: str,
    approved: set[tuple[int | None, str | None]],
) -> tuple[str | None, LedgerRecord | None]:
    if data is None:
        return "not valid JSON", None
    try:
        record = LedgerRecord.from_dict(data)
    except (TypeError, ValueError) as exc:
        return f"not a ledger record ({exc})", None
    if record.hash != canonical_hash(data):
        return "content does not match its hash (the record was edited)", None
    if record.seq != index:
        return f"sequence {record.seq} where {index} was expected (a record is missing)", None
    if not key.endswith(f"{record.seq:08d}.json"):
        return f"stored under the wrong key for sequence {record.seq}", None
    if record.prev_hash != prev_hash:
        return "prev_hash does not match the record before (the chain is broken)", None
    if record.event == "deployed":
        if (record.version, None) not in approved:
            return f"version {record.version} deployed without a registry approval", None
        if record.environment == "prod" and (record.version, "prod") not in approved:
            return f"version {record.version} deployed to prod without a production approval", None
    return None, record
