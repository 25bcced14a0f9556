"""Ingest's domain logic: decode, normalise, batch and publish each signal. Knows nothing of HTTP
or gRPC."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from prometheus_client import Counter

from aiops_core.bus import BrokerUnavailableError, Bus
from aiops_core.bus.topology import (
    LOG_BATCH_ROUTING_KEY,
    METRIC_BATCH_ROUTING_KEY,
    SPAN_BATCH_ROUTING_KEY,
    TELEMETRY_EXCHANGE,
)
from aiops_core.errors import DependencyUnavailableError
from aiops_core.models import LogRecordFields, MetricPointFields, SpanFields, encode_batch, encode_span_batch
from aiops_core.windows import aggregate, wire_deltas
from aiops_ingest.batcher import Batcher
from aiops_ingest.metrics import IngestMetrics
from aiops_ingest.normalise import NormalisedSpans, SpanNormaliser
from aiops_ingest.normalise_logs import LogNormaliser
from aiops_ingest.normalise_metrics import MetricNormaliser
from aiops_ingest.normalised import Normalised
from aiops_ingest.otlp import LOGS, METRICS, TRACES, Encoding, Signal, decompress, parse_request
from aiops_ingest.schemas import TelemetryRecord

# What a client should wait before retrying when the broker is away.
RETRY_AFTER_S = 5


@dataclass(frozen=True)
class Normalisers:
    spans: SpanNormaliser
    metrics: MetricNormaliser
    logs: LogNormaliser


@dataclass(frozen=True)
class _Pipeline:
    """What becomes of one signal's requests: how they are normalised, batched and counted."""

    normalise: Callable[[Any], Normalised[Any]]
    batcher: Batcher[Any]
    accepted: Counter


class IngestService:
    def __init__(
        self,
        bus: Bus,
        normalisers: Normalisers,
        metrics: IngestMetrics,
        *,
        max_body_bytes: int,
        batch_max_items: int,
        batch_linger_s: float,
    ) -> None:
        self._bus = bus
        self._spans = normalisers.spans
        self._metrics = metrics
        self._max_body_bytes = max_body_bytes

        def batcher(publish: Callable[[list[Any]], Awaitable[None]]) -> Batcher[Any]:
            return Batcher(publish, max_items=batch_max_items, linger_s=batch_linger_s)

        self._pipelines = {
            TRACES: _Pipeline(normalisers.spans.from_otlp, batcher(self._publish_spans), metrics.spans),
            METRICS: _Pipeline(
                normalisers.metrics.from_otlp, batcher(self._publish_points), metrics.metric_points
            ),
            LOGS: _Pipeline(normalisers.logs.from_otlp, batcher(self._publish_records), metrics.log_records),
        }

    async def accept_otlp(
        self, signal: Signal, body: bytes, encoding: Encoding, content_encoding: str | None
    ) -> Normalised[Any]:
        """An OTLP/HTTP request's body: decoded, normalised and confirmed by the broker."""
        # On the event loop: a worker thread would not run beside it (the GIL) and handing over
        # to it cost more than it spared; a request of 512 spans holds the loop ~10 ms.
        raw = decompress(body, content_encoding, self._max_body_bytes)
        return await self.accept_request(signal, parse_request(raw, encoding, signal))

    async def accept_request(self, signal: Signal, request: Any) -> Normalised[Any]:
        """A decoded export request of `signal` (an OTLP/gRPC call's): normalised and confirmed."""
        pipeline = self._pipelines[signal]
        result = pipeline.normalise(request)
        await self._accept(signal, pipeline, result)
        return result

    async def accept_records(self, records: Sequence[TelemetryRecord]) -> NormalisedSpans:
        result = self._spans.from_records(records)
        await self._accept(TRACES, self._pipelines[TRACES], result)
        return result

    async def _accept(self, signal: Signal, pipeline: _Pipeline, result: Normalised[Any]) -> None:
        for reason, count in result.rejected.items():
            self._metrics.rejected.labels(signal.name, reason).inc(count)
        if not result.items:
            return
        try:
            await pipeline.batcher.submit(result.items)
        except BrokerUnavailableError as exc:
            self._metrics.rejected.labels(signal.name, "broker_unavailable").inc(len(result.items))
            raise DependencyUnavailableError("broker", str(exc), retry_after_s=RETRY_AFTER_S) from exc
        pipeline.accepted.inc(len(result.items))

    async def _publish_spans(self, spans: list[SpanFields]) -> None:
        batch_id = uuid4()
        body = encode_span_batch(batch_id, time.time_ns(), spans, wire_deltas(aggregate(spans)))
        await self._publish(TRACES, SPAN_BATCH_ROUTING_KEY, str(batch_id), body)
        self._metrics.batch_spans.observe(len(spans))

    async def _publish_points(self, points: list[MetricPointFields]) -> None:
        batch_id = uuid4()
        body = encode_batch(batch_id, time.time_ns(), points=points)
        await self._publish(METRICS, METRIC_BATCH_ROUTING_KEY, str(batch_id), body)

    async def _publish_records(self, records: list[LogRecordFields]) -> None:
        batch_id = uuid4()
        body = encode_batch(batch_id, time.time_ns(), records=records)
        await self._publish(LOGS, LOG_BATCH_ROUTING_KEY, str(batch_id), body)

    async def _publish(self, signal: Signal, routing_key: str, message_id: str, body: bytes) -> None:
        started = time.perf_counter()
        await self._bus.publish(TELEMETRY_EXCHANGE, routing_key, body, message_id=message_id)
        self._metrics.publish_seconds.observe(time.perf_counter() - started)
        self._metrics.batches.labels(signal.name).inc()

    async def close(self) -> None:
        for pipeline in self._pipelines.values():
            await pipeline.batcher.close()
