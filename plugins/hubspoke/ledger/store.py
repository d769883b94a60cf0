"""Reading and appending ledger records in S3.

Records live at ``s3://<hub bucket>/ledger/<model>/<seq:08d>.json``. Appending uses S3's
conditional write (``If-None-Match: *``): two writers racing for the same sequence number
cannot both succeed, so the chain never forks; the loser re-reads the head and retries.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from hubspoke.ledger.records import EVENT_TYPES, GENESIS, LedgerRecord

if TYPE_CHECKING:
    from collections.abc import Iterator

PREFIX = "ledger/"


class LedgerConflictError(RuntimeError):
    """Another writer kept winning the race for the next sequence number."""


class MalformedRecord(ValueError):
    """A stored object under ``ledger/`` that is not a ledger record (unreadable JSON, or
    fields a record does not have)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def parse_record(key: str, data: dict[str, Any] | None) -> LedgerRecord:
    """The record stored under ``key`` (``data`` as :meth:`Ledger.raw` read it), or raise
    :class:`MalformedRecord` naming what is wrong with it."""
    if data is None:
        raise MalformedRecord(key, "not valid JSON")
    if not isinstance(data, dict):
        raise MalformedRecord(key, f"not a ledger record (a JSON {type(data).__name__})")
    try:
        return LedgerRecord.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise MalformedRecord(key, f"not a ledger record ({exc})") from None


class Ledger:
    """The ledger of every model in one bucket. ``s3`` is a boto3 S3 client of the hub."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def _key(self, model: str, seq: int) -> str:
        return f"{PREFIX}{model}/{seq:08d}.json"

    def _keys(self, model: str) -> Iterator[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{PREFIX}{model}/"):
            for item in page.get("Contents", []):
                yield item["Key"]

    def models(self) -> list[str]:
        response = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=PREFIX, Delimiter="/")
        return sorted(p["Prefix"][len(PREFIX) : -1] for p in response.get("CommonPrefixes", []))

    def raw(self, model: str) -> list[tuple[str, dict[str, Any] | None]]:
        """(key, parsed JSON or None when unreadable) for every record, in key order."""
        out: list[tuple[str, dict[str, Any] | None]] = []
        for key in sorted(self._keys(model)):
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            try:
                out.append((key, json.loads(body)))
            except ValueError:
                out.append((key, None))
        return out

    def readable(
        self, model: str, version: int | None = None
    ) -> tuple[list[LedgerRecord], MalformedRecord | None]:
        """The records in order up to the first malformed one, and that one's problem (None
        when every record reads). Only well-formedness is checked; hashes and the chain are
        :func:`hubspoke.ledger.verify_records`'s job."""
        records: list[LedgerRecord] = []
        for key, data in self.raw(model):
            try:
                record = parse_record(key, data)
            except MalformedRecord as exc:
                return _of_version(records, version), exc
            records.append(record)
        return _of_version(records, version), None

    def records(self, model: str, version: int | None = None) -> list[LedgerRecord]:
        """Every record in order; raises :class:`MalformedRecord` at the first that does not
        read (decisions must not be taken on a partial history)."""
        records, problem = self.readable(model, version)
        if problem is not None:
            raise problem
        return records

    def head(self, model: str) -> LedgerRecord | None:
        keys = sorted(self._keys(model))
        if not keys:
            return None
        body = self.s3.get_object(Bucket=self.bucket, Key=keys[-1])["Body"].read()
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        return parse_record(keys[-1], data)

    def append(
        self,
        model: str,
        event: str,
        *,
        actor: str,
        version: int | None = None,
        environment: str | None = None,
        details: dict[str, Any] | None = None,
        attempts: int = 5,
    ) -> LedgerRecord:
        """Add one record at the head of ``model``'s chain and return it (sealed)."""
        if event not in EVENT_TYPES:
            raise ValueError(f"unknown ledger event {event!r}; one of {', '.join(EVENT_TYPES)}")
        for _ in range(attempts):
            head = self.head(model)
            record = LedgerRecord(
                seq=(head.seq + 1) if head else 1,
                model=model,
                event=event,
                at=datetime.now(UTC).isoformat(timespec="milliseconds"),
                actor=actor,
                version=version,
                environment=environment,
                details=dict(details or {}),
                prev_hash=head.hash if head else GENESIS,
            ).sealed()
            try:
                self.s3.put_object(
                    Bucket=self.bucket,
                    Key=self._key(model, record.seq),
                    Body=json.dumps(record.to_dict(), sort_keys=True, indent=1).encode(),
                    ContentType="application/json",
                    IfNoneMatch="*",
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] in {
                    "PreconditionFailed",
                    "ConditionalRequestConflict",
                }:
                    continue  # someone appended first: chain onto their record
                raise
            return record
        raise LedgerConflictError(
            f"could not append to the {model} ledger after {attempts} attempts: "
            "other writers kept taking the next sequence number"
        )


def _of_version(records: list[LedgerRecord], version: int | None) -> list[LedgerRecord]:
    return records if version is None else [r for r in records if r.version == version]
