"""Batches as the writer reads them: decoded by msgspec straight into typed fields, attributes
kept as the JSON text they travelled as, which is what their jsonb column takes.

A span batch is the same message as `aiops_core.models.SpanBatch`, with the same limits, for about
a tenth of the cost of building a model per span; the window deltas the message also carries are
skipped. Metric point and log record batches are what ingest builds from
`aiops_core.models.MetricPointFields` and `LogRecordFields`.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec

from aiops_core.models import MetricKind, SpanKind, Temporality
from aiops_core.peers import NodeKind

# Hex, stored as the bytes they spell: a batch with an id that is not is dead-lettered when its
# rows are built (a pattern here would double the cost of decoding a batch), as one whose
# attributes are not a JSON object.
TraceId = Annotated[str, msgspec.Meta(min_length=32, max_length=32)]
SpanId = Annotated[str, msgspec.Meta(min_length=16, max_length=16)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class StoredSpan(msgspec.Struct, kw_only=True, frozen=True):
    trace_id: TraceId
    span_id: SpanId
    parent_span_id: SpanId | None = None
    service: Name
    operation: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    kind: SpanKind
    start_time_unix_nano: Annotated[int, msgspec.Meta(gt=0)]
    duration_ns: Annotated[int, msgspec.Meta(ge=0)]
    http_status: Annotated[int, msgspec.Meta(ge=0, le=999)] | None = None
    is_error: bool
    error_message: Annotated[str, msgspec.Meta(max_length=2048)] | None = None
    attributes: msgspec.Raw = msgspec.Raw(b"{}")
    peer: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    peer_kind: NodeKind | None = None
    instance: Annotated[str, msgspec.Meta(max_length=256)] | None = None


class StoredBatch(msgspec.Struct, frozen=True):
    batch_id: UUID
    created_at_unix_nano: Annotated[int, msgspec.Meta(gt=0)]
    spans: Annotated[list[StoredSpan], msgspec.Meta(min_length=1)]


class StoredPoint(msgspec.Struct, kw_only=True, frozen=True):
    series_id: int
    service: Name
    instance: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    name: Name
    kind: MetricKind
    temporality: Temporality | None = None
    monotonic: bool = False
    unit: Annotated[str, msgspec.Meta(max_length=64)] = ""
    description: Annotated[str, msgspec.Meta(max_length=512)] = ""
    attributes: msgspec.Raw = msgspec.Raw(b"{}")
    start_time_unix_nano: Annotated[int, msgspec.Meta(ge=0)] = 0
    time_unix_nano: Annotated[int, msgspec.Meta(gt=0)]
    value: float | None = None
    count: float | None = None
    sum: float | None = None
    bounds: list[float] | None = None
    bucket_counts: list[float] | None = None


class StoredPointBatch(msgspec.Struct, frozen=True):
    batch_id: UUID
    created_at_unix_nano: Annotated[int, msgspec.Meta(gt=0)]
    points: Annotated[list[StoredPoint], msgspec.Meta(min_length=1)]


class StoredLogRecord(msgspec.Struct, kw_only=True, frozen=True):
    service: Name
    instance: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    time_unix_nano: Annotated[int, msgspec.Meta(gt=0)]
    severity_number: Annotated[int, msgspec.Meta(ge=0, le=24)] = 0
    severity_text: Annotated[str, msgspec.Meta(max_length=32)] = ""
    body: str
    trace_id: TraceId | None = None
    span_id: SpanId | None = None
    attributes: msgspec.Raw = msgspec.Raw(b"{}")


class StoredLogBatch(msgspec.Struct, frozen=True):
    batch_id: UUID
    created_at_unix_nano: Annotated[int, msgspec.Meta(gt=0)]
    records: Annotated[list[StoredLogRecord], msgspec.Meta(min_length=1)]
