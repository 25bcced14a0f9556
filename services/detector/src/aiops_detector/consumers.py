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
from pydantic import ValidationError

from aiops_core.bus import Bus, IncomingMessage, PoisonMessageError, Subscription
from aiops_core.bus.topology import SPAN_STORE_QUEUE
from aiops_core.models import SpanBatch
from aiops_detector.metrics import WriterMetrics
from aiops_detector.repository import SpanRepository

log = logging.getLogger(__name__)


class SpanWriterConsumer:
    def __init__(
        self, bus: Bus, repository: SpanRepository, metrics: WriterMetrics, *, prefetch: int
    ) -> None:
        self._bus = bus
        self._repository = repository
        self._metrics = metrics
        self._prefetch = prefetch
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = await self._bus.consume(SPAN_STORE_QUEUE, self.handle, prefetch=self._prefetch)

    async def stop(self) -> None:
        """Stop taking batches, finish (and acknowledge) those in flight."""
        if self._subscription is not None:
            await self._subscription.stop()

    async def handle(self, message: IncomingMessage) -> None:
        try:
            batch = decode_span_batch(message)
        except PoisonMessageError:
            self._metrics.batches.labels("dead_lettered").inc()
            raise
        started = time.perf_counter()
        try:
            stored = await self._repository.write_batch(batch)
        except asyncpg.CheckViolationError:
            # No partition for a row's day: one was dropped since we last looked.
            self._repository.forget_partitions()
            self._metrics.batches.labels("retried").inc()
            raise
        except asyncpg.DataError as exc:
            self._metrics.batches.labels("dead_lettered").inc()
            raise PoisonMessageError(f"the database refused the batch's data: {exc}") from exc
        except Exception:
            self._metrics.batches.labels("retried").inc()
            raise
        if not stored:
            self._metrics.batches.labels("duplicate").inc()
            log.info("skipped a batch already stored", extra={"batch_id": str(batch.batch_id)})
            return
        self._metrics.commit_seconds.observe(time.perf_counter() - started)
        self._metrics.lag_seconds.observe(max(0.0, (time.time_ns() - batch.created_at_unix_nano) / 1e9))
        self._metrics.batches.labels("stored").inc()
        self._metrics.rows.inc(len(batch.spans))


def decode_span_batch(message: IncomingMessage) -> SpanBatch:
    """The message's span batch; `PoisonMessageError` (dead-letter it) when it is none."""
    try:
        return SpanBatch.model_validate_json(message.body)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = ".".join(str(part) for part in error["loc"]) or "body"
        raise PoisonMessageError(f"not a span batch: {location}: {error['msg']}") from exc
