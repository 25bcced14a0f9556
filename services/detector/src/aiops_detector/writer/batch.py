"""A span batch as the writer reads it: decoded by msgspec straight into typed fields, each span's
attributes kept as the JSON text they travelled as, which is what their jsonb column takes.

The same message as `aiops_core.models.SpanBatch`, with the same limits, for about a tenth of the
cost of building a model per span; the window deltas the message also carries are skipped.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec

from aiops_core.models import SpanKind
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
