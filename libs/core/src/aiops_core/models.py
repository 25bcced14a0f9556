"""Models that cross a process boundary (bus messages).

A span is normalised once, at ingest, into this shape; every later stage reads this and
never the raw OTLP.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, TypedDict
from uuid import UUID

import msgspec
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from aiops_core.peers import NodeKind


class SpanKind(StrEnum):
    UNSPECIFIED = "unspecified"
    INTERNAL = "internal"
    SERVER = "server"
    CLIENT = "client"
    PRODUCER = "producer"
    CONSUMER = "consumer"


class Span(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Lengths only: ingest makes ids from bytes, so they are hex by construction, and a regular
    # expression here would cost as much as the rest of the validation of a span.
    trace_id: str = Field(min_length=32, max_length=32, description="32 lowercase hex digits.")
    span_id: str = Field(min_length=16, max_length=16, description="16 lowercase hex digits.")
    parent_span_id: str | None = Field(default=None, min_length=16, max_length=16)
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
    attributes: dict[str, JsonValue] = Field(default_factory=dict)
    peer: str | None = Field(
        default=None,
        max_length=256,
        description="For a client or producer span, the node it calls, named from its attributes "
        "(aiops_core.peers): 'postgresql stock-db', 'api.stripe.com'.",
    )
    peer_kind: NodeKind | None = Field(default=None, description="What the peer is; set with `peer`.")
    instance: str | None = Field(
        default=None,
        max_length=256,
        description="The instance of the service that sent it: service.instance.id, pod or host.",
    )


class SpanFields(TypedDict):
    """A span as ingest builds it for the wire: the fields of `Span`, as plain values.

    Ingest serialises these directly (building a model per span would cost more than parsing
    the span); every consumer validates them as `Span` on receipt."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    service: str
    operation: str
    kind: str
    start_time_unix_nano: int
    duration_ns: int
    http_status: int | None
    is_error: bool
    error_message: str | None
    attributes: dict[str, JsonValue]
    peer: str | None
    peer_kind: str | None
    instance: str | None


class SpanBatch(BaseModel):
    """What travels on the bus: hundreds of spans in one message, with an id for idempotency.

    The message also carries the batch's window deltas (`windows`), which the writer, reading
    this model, skips; the detector reads them as `aiops_core.windows.WindowBatch`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    batch_id: UUID
    created_at_unix_nano: int = Field(gt=0, description="When ingest published it; for lag metrics.")
    spans: list[Span] = Field(min_length=1)


# msgspec: twice as fast as pydantic's encoder on the plain values of hundreds of spans.
_ENCODER = msgspec.json.Encoder()


def encode_batch(batch_id: UUID, created_at_unix_nano: int, **contents: Any) -> bytes:
    """The wire form of a batch of any signal, built from plain fields without a model per item:
    its id, when it was published, and what it carries (`spans=`, `points=` or `records=`)."""
    return _ENCODER.encode({"batch_id": batch_id, "created_at_unix_nano": created_at_unix_nano, **contents})


def encode_span_batch(
    batch_id: UUID, created_at_unix_nano: int, spans: list[SpanFields], windows: list[dict[str, Any]]
) -> bytes:
    """A span batch: its spans and its window deltas (`aiops_core.windows.wire_deltas`)."""
    return encode_batch(batch_id, created_at_unix_nano, spans=spans, windows=windows)


class MetricKind(StrEnum):
    GAUGE = "gauge"
    SUM = "sum"
    HISTOGRAM = "histogram"
    EXPONENTIAL_HISTOGRAM = "exponential_histogram"
    SUMMARY = "summary"


class Temporality(StrEnum):
    DELTA = "delta"
    CUMULATIVE = "cumulative"


class MetricPointFields(TypedDict):
    """A metric data point as ingest builds it for the wire (routing key `metrics.batch`, batches
    of `points`); the writer (aiops_detector.writer.batch) reads it.

    `series_id` is ingest's hash of the series' identity: service, instance, name and attributes.
    A gauge or sum has `value`; a histogram or summary `count` and `sum`, a histogram also its
    bucket `bounds` and `bucket_counts`. Points come as sent: the writer turns cumulative ones
    into deltas."""

    series_id: int
    service: str
    instance: str | None
    name: str
    kind: str
    temporality: str | None
    monotonic: bool
    unit: str
    description: str
    attributes: dict[str, JsonValue]
    start_time_unix_nano: int
    time_unix_nano: int
    value: float | None
    count: float | None
    sum: float | None
    bounds: list[float] | None
    bucket_counts: list[float] | None


class LogRecordFields(TypedDict):
    """A log record as ingest builds it for the wire (routing key `logs.batch`, batches of
    `records`). Ids are hex, as on spans; `time_unix_nano` is the record's time, or when it was
    observed if it has none."""

    service: str
    instance: str | None
    time_unix_nano: int
    severity_number: int
    severity_text: str
    body: str
    trace_id: str | None
    span_id: str | None
    attributes: dict[str, JsonValue]


class AnomalyKind(StrEnum):
    ERROR_RATIO = "error_ratio"
    LATENCY = "latency"
    TRAFFIC_DROP = "traffic_drop"
    TRAFFIC_SURGE = "traffic_surge"
    MULTIVARIATE = "multivariate"
    # A gauge with a known limit (a pool's size, a memory limit) forecast to reach it soon; its
    # operation names the metric series.
    SATURATION = "saturation"
    # A service logging errors (ERROR and FATAL records) far more often than in the hour before.
    LOG_SURGE = "log_surge"
    # A metric series far from what its own past says is normal (`aiops detect-csv`'s scorer, live);
    # its operation names the series.
    METRIC = "metric"


class ErrorMessageCount(BaseModel):
    message: str
    count: int = Field(ge=1)


class AnomalyEvidence(BaseModel):
    trace_ids: list[str] = Field(default_factory=list, description="Exemplar traces, most telling first.")
    error_messages: list[ErrorMessageCount] = Field(
        default_factory=list, description="The most frequent error messages of the series, recently."
    )


class Anomaly(BaseModel):
    """An anomaly on one series, as stored in `anomalies` and carried by anomaly events."""

    id: UUID
    service: str
    operation: str
    kind: AnomalyKind
    score: float = Field(ge=0, le=1, description="How anomalous, on the scale shared by every detector.")
    started_at: datetime = Field(description="Start of the window in which it was first seen.")
    detected_at: datetime
    window_s: int = Field(gt=0, description="Length of the window the values were measured over.")
    observed: dict[str, float | None]
    baseline: dict[str, float | None]
    evidence: AnomalyEvidence
    cleared_at: datetime | None = None


class AnomalyEvent(BaseModel):
    """What travels on the `anomalies` exchange (routing key `anomaly.detected` or `anomaly.cleared`)."""

    event: Literal["detected", "cleared"]
    anomaly: Anomaly
