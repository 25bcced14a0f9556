"""The log records' SQL: batches written with COPY, exactly once."""

from __future__ import annotations

from typing import Any

from aiops_core.store.partitions import LOG_RECORDS
from aiops_detector.writer.batch import StoredLogBatch, StoredLogRecord
from aiops_detector.writer.repository import InvalidBatchError, TelemetryRepository, timestamp

LOG_COLUMNS = (
    "time",
    "service",
    "instance",
    "severity_number",
    "severity_text",
    "body",
    "trace_id",
    "span_id",
    "attributes",
)


def log_row(record: StoredLogRecord) -> tuple[Any, ...]:
    """The row of a log record; ValueError for an id that is not hex or attributes that are not a
    JSON object."""
    attributes = str(record.attributes, "utf-8")
    if not attributes.startswith("{"):
        raise ValueError(f"attributes are not a JSON object: {attributes[:40]}")
    return (
        timestamp(record.time_unix_nano),
        record.service,
        record.instance,
        record.severity_number,
        record.severity_text,
        record.body.replace("\x00", ""),
        bytes.fromhex(record.trace_id) if record.trace_id else None,
        bytes.fromhex(record.span_id) if record.span_id else None,
        attributes,
    )


class LogRecordRepository(TelemetryRepository):
    table = LOG_RECORDS
    signal = "logs"

    async def write_batch(self, batch: StoredLogBatch) -> bool:
        """Store the batch's records and its id in one transaction; False (and nothing written)
        when the batch was already stored."""
        try:
            rows = [log_row(record) for record in batch.records]
        except ValueError as exc:
            raise InvalidBatchError(f"a log record cannot be stored: {exc}") from exc
        return await self.copy_batch(batch.batch_id, rows, LOG_COLUMNS)
