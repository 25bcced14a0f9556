"""Ingest's domain logic: decode, normalise, batch and publish. Knows nothing of HTTP."""

from __future__ import annotations

import time
from collections.abc import Sequence
from uuid import uuid4

from aiops_core.bus import BrokerUnavailableError, Bus
from aiops_core.bus.topology import SPAN_BATCH_ROUTING_KEY, TELEMETRY_EXCHANGE
from aiops_core.errors import DependencyUnavailableError
from aiops_core.models import SpanFields, encode_span_batch
from aiops_core.windows import aggregate, wire_deltas
from aiops_ingest.batcher import SpanBatcher
from aiops_ingest.metrics import IngestMetrics
from aiops_ingest.normalise import NormalisedSpans, SpanNormaliser
from aiops_ingest.otlp import Encoding, decompress, parse_request
from aiops_ingest.schemas import TelemetryRecord

# What a client should wait before retrying when the broker is away.
RETRY_AFTER_S = 5


class IngestService:
    def __init__(
        self,
        bus: Bus,
        normaliser: SpanNormaliser,
        metrics: IngestMetrics,
        *,
        max_body_bytes: int,
        batch_max_spans: int,
        batch_linger_s: float,
    ) -> None:
        self._bus = bus
        self._normaliser = normaliser
        self._metrics = metrics
        self._max_body_bytes = max_body_bytes
        self._batcher = SpanBatcher(self._publish, max_spans=batch_max_spans, linger_s=batch_linger_s)

    async def accept_otlp(
        self, body: bytes, encoding: Encoding, content_encoding: str | None
    ) -> NormalisedSpans:
        # On the event loop: a worker thread would not run beside it (the GIL) and handing over
        # to it cost more than it spared; a request of 512 spans holds the loop ~10 ms.
        result = self._decode_otlp(body, encoding, content_encoding)
        await self._accept(result)
        return result

    def _decode_otlp(self, body: bytes, encoding: Encoding, content_encoding: str | None) -> NormalisedSpans:
        raw = decompress(body, content_encoding, self._max_body_bytes)
        return self._normaliser.from_otlp(parse_request(raw, encoding))

    async def accept_records(self, records: Sequence[TelemetryRecord]) -> NormalisedSpans:
        result = self._normaliser.from_records(records)
        await self._accept(result)
        return result

    async def _accept(self, result: NormalisedSpans) -> None:
        for reason, count in result.rejected.items():
            self._metrics.rejected.labels(reason).inc(count)
        if not result.spans:
            return
        try:
            await self._batcher.submit(result.spans)
        except BrokerUnavailableError as exc:
            self._metrics.rejected.labels("broker_unavailable").inc(len(result.spans))
            raise DependencyUnavailableError("broker", str(exc), retry_after_s=RETRY_AFTER_S) from exc
        self._metrics.spans.inc(len(result.spans))

    async def _publish(self, spans: list[SpanFields]) -> None:
        batch_id = uuid4()
        body = encode_span_batch(batch_id, time.time_ns(), spans, wire_deltas(aggregate(spans)))
        started = time.perf_counter()
        await self._bus.publish(TELEMETRY_EXCHANGE, SPAN_BATCH_ROUTING_KEY, body, message_id=str(batch_id))
        self._metrics.publish_seconds.observe(time.perf_counter() - started)
        self._metrics.batches.inc()
        self._metrics.batch_spans.observe(len(spans))

    async def close(self) -> None:
        await self._batcher.close()
