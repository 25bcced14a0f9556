"""Span batches as ingest would publish them, for tests and benchmarks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast
from uuid import uuid4

import msgspec
from pydantic import JsonValue

from aiops_core.models import Span, SpanBatch, SpanFields, SpanKind, encode_span_batch
from aiops_core.windows import aggregate, wire_deltas
from aiops_detector.writer.batch import StoredBatch


def batch_at(moment: datetime, n: int = 3, attributes: dict[str, JsonValue] | None = None) -> SpanBatch:
    """`n` server spans starting at `moment`, one nanosecond apart."""
    start_ns = int(moment.timestamp() * 1e9)
    return SpanBatch(
        batch_id=uuid4(),
        created_at_unix_nano=start_ns,
        spans=[
            Span(
                trace_id=uuid4().hex,
                span_id=uuid4().hex[:16],
                service="shop",
                operation="GET /",
                kind=SpanKind.SERVER,
                start_time_unix_nano=start_ns + i,
                duration_ns=1000,
                is_error=False,
                attributes=attributes or {},
            )
            for i in range(n)
        ],
    )


def request_span(
    moment: datetime,
    *,
    service: str = "payment",
    operation: str = "POST /payment",
    duration_ms: float = 40.0,
    error: str | None = None,
    kind: SpanKind = SpanKind.SERVER,
) -> Span:
    """One request span of a series, failed with `error` when given."""
    return Span(
        trace_id=uuid4().hex,
        span_id=uuid4().hex[:16],
        parent_span_id=uuid4().hex[:16],
        service=service,
        operation=operation,
        kind=kind,
        start_time_unix_nano=int(moment.timestamp() * 1e9),
        duration_ns=int(duration_ms * 1e6),
        http_status=500 if error else 200,
        is_error=error is not None,
        error_message=error,
    )


def batch_of(spans: list[Span]) -> SpanBatch:
    return SpanBatch(batch_id=uuid4(), created_at_unix_nano=spans[0].start_time_unix_nano, spans=spans)


def span_fields(spans: Iterable[Span]) -> list[SpanFields]:
    """Spans as ingest builds them for the wire."""
    return [cast(SpanFields, span.model_dump(mode="json")) for span in spans]


def batch_message(batch: SpanBatch) -> bytes:
    """The message ingest publishes for `batch`: its spans and their window deltas."""
    fields = span_fields(batch.spans)
    return encode_span_batch(
        batch.batch_id, batch.created_at_unix_nano, fields, wire_deltas(aggregate(fields))
    )


def stored_batch(batch: SpanBatch) -> StoredBatch:
    """`batch` as the span writer decodes it off the bus."""
    return msgspec.json.decode(batch_message(batch), type=StoredBatch)
