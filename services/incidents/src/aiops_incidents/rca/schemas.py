"""The pydantic models of the traces API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class TraceSpan(BaseModel):
    """A stored span (`StoredSpan`, read by its attributes) as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    span_id: str = Field(description="16 lowercase hex digits.")
    parent_span_id: str | None = Field(
        description="The parent's span id; null for the root. A parent that was never received "
        "(an uninstrumented caller) is named all the same."
    )
    service: str
    operation: str
    kind: str = Field(description="server, client, internal, producer, consumer or unspecified.")
    start_time: datetime
    duration_ms: float
    is_error: bool
    error_message: str | None


class TraceLog(BaseModel):
    """A log record sent in the trace's context (the OpenTelemetry logging bridge puts it there)."""

    time: datetime
    service: str
    instance: str | None
    severity_number: int = Field(
        description="OpenTelemetry's SeverityNumber: 9-12 info, 13-16 warn, 17-20 error."
    )
    severity_text: str
    body: str
    span_id: str | None = Field(description="The span it was logged in, 16 lowercase hex digits.")
    attributes: dict[str, JsonValue]


class Trace(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                    "spans": [
                        {
                            "span_id": "00f067aa0ba902b7",
                            "parent_span_id": None,
                            "service": "frontend",
                            "operation": "POST /checkout",
                            "kind": "server",
                            "start_time": "2026-11-28T12:00:00.000Z",
                            "duration_ms": 52.4,
                            "is_error": True,
                            "error_message": "payment answered 500",
                        },
                        {
                            "span_id": "53995c3f42cd8ad8",
                            "parent_span_id": "00f067aa0ba902b7",
                            "service": "payment",
                            "operation": "POST /payment",
                            "kind": "server",
                            "start_time": "2026-11-28T12:00:00.011Z",
                            "duration_ms": 40.1,
                            "is_error": True,
                            "error_message": "card processor timed out",
                        },
                    ],
                    "logs": [
                        {
                            "time": "2026-11-28T12:00:00.050Z",
                            "service": "payment",
                            "instance": "payment-1",
                            "severity_number": 17,
                            "severity_text": "ERROR",
                            "body": "request failed: card processor timed out",
                            "span_id": "53995c3f42cd8ad8",
                            "attributes": {"exception.type": "TimeoutError"},
                        }
                    ],
                }
            ]
        }
    }

    trace_id: str = Field(description="32 lowercase hex digits.")
    spans: list[TraceSpan] = Field(description="Every stored span of the trace, by start time.")
    logs: list[TraceLog] = Field(description="Every stored log record of the trace, by time.")
