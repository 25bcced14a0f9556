"""The window consumer: merges each span batch from `telemetry.detect` into the shared windows.

The batch is aggregated in memory into one delta per series and second, then merged in one Redis
call that also claims the batch id, so a redelivered batch adds nothing. The message is
acknowledged after the merge; a batch that does not parse is dead-lettered with the reason, and
anything else (Redis unreachable) is retried after a backoff.
"""

from __future__ import annotations

import time

from aiops_core.bus import Bus, IncomingMessage, PoisonMessageError, Subscription
from aiops_core.bus.topology import SPAN_DETECT_QUEUE
from aiops_detector.consumers import decode_span_batch
from aiops_detector.detection.metrics import DetectionMetrics
from aiops_detector.detection.window_store import WindowStore
from aiops_detector.detection.windows import aggregate


class WindowConsumer:
    def __init__(
        self, bus: Bus, windows: WindowStore, metrics: DetectionMetrics, *, slot_s: int, prefetch: int
    ) -> None:
        self._bus = bus
        self._windows = windows
        self._metrics = metrics
        self._slot_s = slot_s
        self._prefetch = prefetch
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = await self._bus.consume(SPAN_DETECT_QUEUE, self.handle, prefetch=self._prefetch)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.stop()

    async def handle(self, message: IncomingMessage) -> None:
        try:
            batch = decode_span_batch(message)
        except PoisonMessageError:
            self._metrics.batches.labels("dead_lettered").inc()
            raise
        deltas = aggregate(batch.spans, self._slot_s)
        try:
            merged = (
                await self._windows.merge(batch.batch_id, deltas, received_s=time.time()) if deltas else True
            )
        except Exception:
            self._metrics.batches.labels("retried").inc()
            raise
        self._metrics.batches.labels("merged" if merged else "duplicate").inc()
        self._metrics.lag_seconds.observe(max(0.0, (time.time_ns() - batch.created_at_unix_nano) / 1e9))
