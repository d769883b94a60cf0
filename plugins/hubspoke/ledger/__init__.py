"""The audit ledger: append-only, hash-chained JSON records in the hub bucket's ``ledger/``.

Every step of a model's journey is one record: ``registered``; ``approved`` or ``rejected``
in the registry; ``promotion_requested`` (announced by the approval events); ``approved`` for
prod at the production gate; in an environment, ``deployed`` as soon as its endpoint serves
the version (``action`` says whether the endpoint changed), ``validated`` once validation
passes, or ``deployment_failed`` (the task that failed and its error); ``promoted``;
``rolled_back``. Each record carries the hash of the one before, so any edit or deletion
breaks the chain and ``hubspoke ledger verify`` names the first bad record. What each
environment serves is read back from these records by :mod:`hubspoke.ledger.history`.
"""

from __future__ import annotations

from hubspoke.ledger.history import (
    champion_version,
    live_stack,
    previous_good_version,
    validated_versions,
)
from hubspoke.ledger.records import EVENT_TYPES, LedgerRecord, canonical_hash
from hubspoke.ledger.store import Ledger, LedgerConflictError, MalformedRecord, parse_record
from hubspoke.ledger.verify import VerificationResult, verify_records

__all__ = [
    "EVENT_TYPES",
    "Ledger",
    "LedgerConflictError",
    "LedgerRecord",
    "MalformedRecord",
    "VerificationResult",
    "canonical_hash",
    "champion_version",
    "live_stack",
    "parse_record",
    "previous_good_version",
    "validated_versions",
    "verify_records",
]
