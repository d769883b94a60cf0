"""The audit ledger: append-only, hash-chained JSON records in the hub bucket's ``ledger/``.

Every step of a model's journey (registered, approved or rejected, deployed, validated,
promoted, rolled back) is one record; each record carries the hash of the one before, so any
edit or deletion breaks the chain and ``hubspoke ledger verify`` names the first bad record.
"""

from __future__ import annotations

from hubspoke.ledger.records import EVENT_TYPES, LedgerRecord, canonical_hash
from hubspoke.ledger.store import Ledger, LedgerConflictError
from hubspoke.ledger.verify import VerificationResult, verify_records

__all__ = [
    "EVENT_TYPES",
    "Ledger",
    "LedgerConflictError",
    "LedgerRecord",
    "VerificationResult",
    "canonical_hash",
    "verify_records",
]
