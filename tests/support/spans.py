"""Span batches as ingest would publish them, for tests and benchmarks."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from pydantic import JsonValue

from aiops_core.models import Span, SpanBatch, SpanKind


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
