"""One ledger record and its hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

EVENT_TYPES = (
    "registered",
    "approved",
    "promotion_requested",
    "rejected",
    "deployed",
    "validated",
    "promoted",
    "rolled_back",
    "deployment_failed",
)
GENESIS = "0" * 64


def canonical_hash(payload: dict[str, Any]) -> str:
    """SHA-256 of the record's canonical JSON (sorted keys, no whitespace, hash excluded)."""
    body = {k: v for k, v in payload.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LedgerRecord:
    """A fact about a model version, chained to the record before it."""

    seq: int
    model: str
    event: str
    at: str  # ISO-8601 UTC
    actor: str  # the principal ARN (or person) that caused it
    version: int | None = None
    environment: str | None = None  # staging | prod, for deployment facts
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS
    hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LedgerRecord:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        return cls(**data)

    def sealed(self) -> LedgerRecord:
        """This record with its ``hash`` computed."""
        payload = self.to_dict()
        return LedgerRecord.from_dict({**payload, "hash": canonical_hash(payload)})

    @property
    def intact(self) -> bool:
        return self.hash == canonical_hash(self.to_dict())
