"""The writers: consume batches of each signal and store each exactly once.

A message is acknowledged only after the transaction holding its rows and its batch id has
committed; a redelivery after a crash finds the id and is skipped. A batch that can never be
stored (it does not parse, or the database refuses its data) is dead-lettered with the reason;
anything else (the database is down, a partition is being dropped, two writers deadlocked) is
retried after a backoff.
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from typing import Generic, TypeVar

import asyncpg

from aiops_core.bus import Bus, IncomingMessage, PoisonMessageError, QueueConsumer
from aiops_core.bus.topology import LOG_STORE_QUEUE, METRIC_STORE_QUEUE, SPAN_STORE_QUEUE
from aiops_detector.writer.batch import StoredBatch, StoredLogBatch, StoredPointBatch
from aiops_detector.writer.log_repository import LogRecordRepository
from aiops_detector.writer.metric_repository import MetricPointRepository
from aiops_detector.writer.metrics import WriterMetrics
from aiops_detector.writer.repository import InvalidBatchError, SpanRepository, TelemetryRepository

log = logging.getLogger(__name__)

B = TypeVar("B", StoredBatch, StoredPointBatch, StoredLogBatch)
R = TypeVar("R", bound=TelemetryRepository)


class BatchWriterConsumer(QueueConsumer[B], Generic[B, R]):
    """Consumes `queue` and writes each batch through `repository`, counting by its table."""

    def __init__(self, bus: Bus, repository: R, metrics: WriterMetrics, *, prefetch: int) -> None:
        super().__init__(bus, prefetch=prefetch)
        self._repository = repository
        self._metrics = metrics
        self.table = repository.table

    @abstractmethod
    async def write(self, batch: B) -> int | None:
        """Write the batch; the rows stored, or None if it had been stored before."""

    async def process(self, batch: B, message: IncomingMessage) -> None:
        started = time.perf_counter()
        try:
            rows = await self.write(batch)
        except asyncpg.CheckViolationError:
            # No partition for a row's day: one was dropped since we last looked.
            self._repository.forget_partitions()
            raise
        except asyncpg.DataError as exc:
            raise PoisonMessageError(f"the database refused the batch's data: {exc}") from exc
        except InvalidBatchError as exc:
            raise PoisonMessageError(f"not a {self.what}: {exc}") from exc
        if rows is None:
            self._metrics.batches.labels(self.table, "duplicate").inc()
            log.info("skipped a batch already stored", extra={"batch_id": str(batch.batch_id)})
            return
        self._metrics.commit_seconds.labels(self.table).observe(time.perf_counter() - started)
        self._metrics.lag_seconds.labels(self.table).observe(
            max(0.0, (time.time_ns() - batch.created_at_unix_nano) / 1e9)
        )
        self._metrics.batches.labels(self.table, "stored").inc()
        self._metrics.rows.labels(self.table).inc(rows)

    def on_dead_letter(self, reason: str) -> None:
        self._metrics.batches.labels(self.table, "dead_lettered").inc()

    def on_retry(self, error: Exception) -> None:
        self._metrics.batches.labels(self.table, "retried").inc()


class SpanWriterConsumer(BatchWriterConsumer[StoredBatch, SpanRepository]):
    queue = SPAN_STORE_QUEUE
    model = StoredBatch
    what = "span batch"

    async def write(self, batch: StoredBatch) -> int | None:
        return len(batch.spans) if await self._repository.write_batch(batch) else None


class LogWriterConsumer(BatchWriterConsumer[StoredLogBatch, LogRecordRepository]):
    queue = LOG_STORE_QUEUE
    model = StoredLogBatch
    what = "log record batch"

    async def write(self, batch: StoredLogBatch) -> int | None:
        return len(batch.records) if await self._repository.write_batch(batch) else None


class MetricWriterConsumer(BatchWriterConsumer[StoredPointBatch, MetricPointRepository]):
    queue = METRIC_STORE_QUEUE
    model = StoredPointBatch
    what = "metric point batch"

    async def write(self, batch: StoredPointBatch) -> int | None:
        written = await self._repository.write_batch(batch)
        if written is None:
            return None
        for reason, count in written.dropped.items():
            self._metrics.metric_points_dropped.labels(reason).inc(count)
        return written.stored
