"""The writer's SQL: batches written with COPY, each exactly once, into time-partitioned tables;
here what every signal shares, and the spans'."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from aiops_core.store.partitions import SPANS, ensure_partitions
from aiops_core.store.pool import Connection
from aiops_core.store.repository import Database, Repository
from aiops_detector.writer.batch import StoredBatch, StoredSpan

SPAN_COLUMNS = (
    "start_time",
    "trace_id",
    "span_id",
    "parent_span_id",
    "service",
    "operation",
    "kind",
    "duration_ms",
    "http_status",
    "is_error",
    "error_message",
    "attributes",
    "peer",
    "peer_kind",
    "instance",
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def span_record(span: StoredSpan) -> tuple[Any, ...]:
    """The row of a span; ValueError for an id that is not hex or attributes that are not a JSON
    object. Run for every span stored: timedelta's positional form is a third faster than its
    keyword one, and the kinds are StrEnums, which COPY takes as the text they are."""
    attributes = str(span.attributes, "utf-8")
    if not attributes.startswith("{"):
        raise ValueError(f"attributes are not a JSON object: {attributes[:40]}")
    return (
        timestamp(span.start_time_unix_nano),
        bytes.fromhex(span.trace_id),
        bytes.fromhex(span.span_id),
        bytes.fromhex(span.parent_span_id) if span.parent_span_id else None,
        span.service,
        span.operation,
        span.kind,
        span.duration_ns / 1e6,
        span.http_status,
        span.is_error,
        span.error_message,
        attributes,
        span.peer,
        span.peer_kind,
        span.instance,
    )


class InvalidBatchError(Exception):
    """A batch that can never be stored as it is."""


def timestamp(unix_nano: int) -> datetime:
    """A time in nanoseconds as PostgreSQL keeps it (to the microsecond)."""
    return _EPOCH + timedelta(0, 0, unix_nano // 1000)


class TelemetryRepository(Repository):
    """A time-partitioned table (`table`) written in batches, each exactly once: a batch's id is
    committed in `ingested_batches` with its rows."""

    table: ClassVar[str]
    signal: ClassVar[str]

    def __init__(self, db: Database, *, partitioned: bool) -> None:
        super().__init__(db)
        # On plain PostgreSQL, rows need a partition for their day; the days known to exist
        # are remembered so that the common case costs no query.
        self._partitioned = partitioned
        self._known_days: set[date] = set()

    async def ensure_partitions(self, days: set[date]) -> None:
        if not self._partitioned:
            return
        missing = days - self._known_days
        if not missing:
            return
        async with self.transaction() as conn:
            await ensure_partitions(conn, self.table, missing)
        self._known_days |= missing

    def forget_partitions(self) -> None:
        """Called when a partition was dropped under us (retention): look again next time."""
        self._known_days.clear()

    async def copy_batch(self, batch_id: UUID, rows: list[tuple[Any, ...]], columns: tuple[str, ...]) -> bool:
        """COPY `rows` (each starting with its time) into the table with the batch's id, in one
        transaction; False (and nothing written) when the batch was already stored."""
        await self.ensure_partitions({row[0].date() for row in rows})
        async with self.transaction() as conn:
            if not await self.claim_batch(conn, batch_id, len(rows)):
                return False
            await conn.copy_records_to_table(self.table, records=rows, columns=columns)
        return True

    async def claim_batch(self, conn: Connection, batch_id: UUID, rows: int) -> bool:
        """Record the batch as stored, in the caller's transaction; False if it already was."""
        fresh = await conn.fetchval(
            "INSERT INTO ingested_batches (batch_id, span_count, signal) VALUES ($1, $2, $3) "
            "ON CONFLICT (batch_id) DO NOTHING RETURNING true",
            batch_id,
            rows,
            self.signal,
        )
        return bool(fresh)


class SpanRepository(TelemetryRepository):
    table = SPANS
    signal = "traces"

    async def write_batch(self, batch: StoredBatch) -> bool:
        """Store the batch's spans and its id in one transaction; False (and nothing written)
        when the batch was already stored."""
        try:
            records = [span_record(span) for span in batch.spans]
        except ValueError as exc:
            raise InvalidBatchError(f"a span cannot be stored: {exc}") from exc
        return await self.copy_batch(batch.batch_id, records, SPAN_COLUMNS)


async def forget_batches_before(db: Database, cutoff: datetime) -> int:
    """Drop batch ids older than the retention age; their rows are gone too."""
    result = await db.execute("DELETE FROM ingested_batches WHERE committed_at < $1", cutoff)
    return int(result.split()[-1])
