"""The window consumer: merges each span batch from `telemetry.detect` into the shared windows.

It reads the batch's window deltas, one per series and second, computed by ingest (the spans
themselves are skipped; only a batch from an older ingest is aggregated here), and merges them
with a Redis call per shard of series that also claims the batch id for the shard, so a
redelivered batch adds nothing. The message is
acknowledged after the merge; a batch that does not parse is dead-lettered with the reason, and
anything else (Redis unreachable) is retried after a backoff.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import cast

from pydantic import ValidationError

from aiops_core.bus import Bus, IncomingMessage, PoisonMessageError, QueueConsumer
from aiops_core.bus.topology import SPAN_DETECT_QUEUE
from aiops_core.models import SpanBatch, SpanFields
from aiops_core.windows import WindowBatch, aggregate, counted, wire_deltas
from aiops_detector.detection.metrics import DetectionMetrics
from aiops_detector.detection.window_store import WindowStore


class WindowConsumer(QueueConsumer[WindowBatch]):
    queue = SPAN_DETECT_QUEUE
    model = WindowBatch
    what = "span batch with window deltas"

    def __init__(
        self,
        bus: Bus,
        windows: WindowStore,
        metrics: DetectionMetrics,
        *,
        prefetch: int,
        http_peers: Callable[[], Collection[str]] = frozenset,
    ) -> None:
        """`http_peers`: the HTTP peers known to send no spans, now (see `windows.counted`)."""
        super().__init__(bus, prefetch=prefetch)
        self._windows = windows
        self._metrics = metrics
        self._http_peers = http_peers

    def decode(self, message: IncomingMessage) -> WindowBatch:
        try:
            return super().decode(message)
        except PoisonMessageError as poison:
            # A batch from an ingest older than the window deltas, still queued or published
            # while a rolling upgrade reaches ingest: its deltas are computed here instead.
            try:
                legacy = SpanBatch.model_validate_json(message.body)
            except ValidationError:
                raise poison from None  # the reason about the deltas, not about the older form
            fields = [cast(SpanFields, span.model_dump(mode="json")) for span in legacy.spans]
            return WindowBatch(
                batch_id=legacy.batch_id,
                created_at_unix_nano=legacy.created_at_unix_nano,
                windows=wire_deltas(aggregate(fields)),
            )

    async def process(self, batch: WindowBatch, message: IncomingMessage) -> None:
        deltas = counted(batch.deltas(), self._http_peers())
        merged = await self._windows.merge(batch.batch_id, deltas, received_s=time.time()) if deltas else True
        self._metrics.batches.labels("merged" if merged else "duplicate").inc()
        self._metrics.lag_seconds.observe(max(0.0, (time.time_ns() - batch.created_at_unix_nano) / 1e9))

    def on_dead_letter(self, reason: str) -> None:
        self._metrics.batches.labels("dead_lettered").inc()

    def on_retry(self, error: Exception) -> None:
        self._metrics.batches.labels("retried").inc()
