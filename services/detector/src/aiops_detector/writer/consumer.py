"""The span writer: consumes span batches from `telemetry.store` and stores each exactly once.

The message is acknowledged only after the transaction holding its spans and its batch id has
committed; a redelivery after a crash finds the id and is skipped. A batch that can never be
stored (it does not parse, or the database refuses its data) is dead-lettered with the reason;
anything else (the database is down, a partition is being dropped) is retried after a backoff.
"""

from __future__ import annotations

import logging
import time

import asyncpg

from aiops_core.bus import Bus, IncomingMessage, PoisonMessageError, QueueConsumer
from aiops_core.bus.topology import SPAN_STORE_QUEUE
from aiops_detector.writer.batch import StoredBatch
from aiops_detector.writer.metrics import WriterMetrics
from aiops_detector.writer.repository import InvalidBatchError, SpanRepository

log = logging.getLogger(__name__)


class SpanWriterConsumer(QueueConsumer[StoredBatch]):
    queue = SPAN_STORE_QUEUE
    model = StoredBatch
    what = "span batch"

    def __init__(
        self, bus: Bus, repository: SpanRepository, metrics: WriterMetrics, *, prefetch: int
    ) -> None:
        super().__init__(bus, prefetch=prefetch)
        self._repository = repository
        self._metrics = metrics

    async def process(self, batch: StoredBatch, message: IncomingMessage) -> None:
        started = time.perf_counter()
        try:
            stored = await self._repository.write_batch(batch)
        except asyncpg.CheckViolationError:
            # No partition for a row's day: one was dropped since we last looked.
            self._repository.forget_partitions()
            raise
        except asyncpg.DataError as exc:
            raise PoisonMessageError(f"the database refused the batch's data: {exc}") from exc
        except InvalidBatchError as exc:
            raise PoisonMessageError(f"not a span batch: {exc}") from exc
        if not stored:
            self._metrics.batches.labels("duplicate").inc()
            log.info("skipped a batch already stored", extra={"batch_id": str(batch.batch_id)})
            return
        self._metrics.commit_seconds.observe(time.perf_counter() - started)
        self._metrics.lag_seconds.observe(max(0.0, (time.time_ns() - batch.created_at_unix_nano) / 1e9))
        self._metrics.batches.labels("stored").inc()
        self._metrics.rows.inc(len(batch.spans))

    def on_dead_letter(self, reason: str) -> None:
        self._metrics.batches.labels("dead_lettered").inc()

    def on_retry(self, error: Exception) -> None:
        self._metrics.batches.labels("retried").inc()
