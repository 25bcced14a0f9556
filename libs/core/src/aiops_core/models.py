"""Models that cross a process boundary (bus messages).

A span is normalised once, at ingest, into this shape; every later stage reads this and
never the raw OTLP.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

TRACE_ID_PATTERN = r"^[0-9a-f]{32}$"
SPAN_ID_PATTERN = r"^[0-9a-f]{16}$"

AttributeValue = str | bool | int | float | list[str] | list[bool] | list[int] | list[float]


class SpanKind(StrEnum):
    UNSPECIFIED = "unspecified"
    INTERNAL = "internal"
    SERVER = "server"
    CLIENT = "client"
    PRODUCER = "producer"
    CONSUMER = "consumer"


class Span(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    trace_id: str = Field(pattern=TRACE_ID_PATTERN, description="32 lowercase hex digits.")
    span_id: str = Field(pattern=SPAN_ID_PATTERN, description="16 lowercase hex digits.")
    parent_span_id: str | None = Field(default=None, pattern=SPAN_ID_PATTERN)
    service: str = Field(min_length=1, max_length=256)
    operation: str = Field(
        min_length=1,
        max_length=512,
        description="For HTTP, the method and route template ('POST /payment', never a raw path).",
    )
    kind: SpanKind
    start_time_unix_nano: int = Field(gt=0)
    duration_ns: int = Field(ge=0)
    http_status: int | None = Field(default=None, ge=0, le=999)
    is_error: bool
    error_message: str | None = Field(default=None, max_length=2048)
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)


class SpanBatch(BaseModel):
    """What travels on the bus: hundreds of spans in one message, with an id for idempotency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_id: UUID
    created_at_unix_nano: int = Field(gt=0, description="When ingest published it; for lag metrics.")
    spans: list[Span] = Field(min_length=1)
