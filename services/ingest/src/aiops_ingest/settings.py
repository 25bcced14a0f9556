from __future__ import annotations

from pydantic import Field

from aiops_core.settings import SECRET, CommaList, CoreSettings


class IngestSettings(CoreSettings):
    ingest_tokens: CommaList = Field(
        default_factory=list,
        description="Comma-separated bearer tokens accepted by ingest (a request without one gets 401); "
        "empty accepts any request.",
        json_schema_extra=SECRET,
    )
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted, compressed and decompressed alike (413 above).",
    )
    ingest_grpc_port: int = Field(
        default=4317,
        ge=0,
        le=65535,
        description="Port of the OTLP/gRPC receiver (traces, metrics and logs), served beside OTLP/HTTP on "
        "the same address; 0 turns it off.",
    )
    batch_max_spans: int = Field(
        default=1000,
        ge=1,
        le=20_000,
        description="Most spans (or metric points, or log records) in one bus message; those of "
        "concurrent requests share messages.",
    )
    batch_linger_ms: float = Field(
        default=20.0,
        ge=0,
        le=1000,
        description="How long a partly filled batch waits for more before it is published.",
    )
    max_attributes: int = Field(
        default=32, ge=0, le=256, description="Attributes kept per span (the rest are dropped)."
    )
    max_attribute_length: int = Field(
        default=256, ge=16, le=8192, description="Longest attribute value kept, in characters."
    )
    metric_series_attributes: int = Field(
        default=8,
        ge=0,
        le=32,
        description="Data point attributes that make a metric series (with its name, service and instance): "
        "the first ones by key; the rest are dropped.",
    )
    max_log_body_length: int = Field(
        default=8192, ge=64, le=1_048_576, description="Longest log record body kept, in characters."
    )
    max_clock_skew_s: int = Field(
        default=3600,
        ge=0,
        description="Spans, metric points and log records further than this in the future are refused.",
    )
    ingest_rate_limit_per_s: float = Field(
        default=1000.0,
        ge=0,
        allow_inf_nan=False,
        description="Requests a second one client (bearer token, else address) may send on average, "
        "across every ingest replica; above it 429 with Retry-After. 0 turns the limit off.",
    )
    ingest_rate_limit_burst: int = Field(
        default=2000,
        ge=1,
        description="Requests one client may send at once above its rate before it is limited.",
    )
