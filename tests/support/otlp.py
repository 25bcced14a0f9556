"""OTLP trace requests built directly from the protobuf classes, for tests and benchmarks."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status


def kv(key: str, value: str | int | float | bool) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


@dataclass
class SpanSpec:
    name: str = "GET /items/{id}"
    kind: int = Span.SPAN_KIND_SERVER
    attributes: dict[str, str | int | float | bool] = field(default_factory=dict)
    trace_id: bytes = field(default_factory=lambda: os.urandom(16))
    span_id: bytes = field(default_factory=lambda: os.urandom(8))
    parent_span_id: bytes = b""
    start_ns: int = field(default_factory=time.time_ns)
    duration_ns: int = 5_000_000
    status_code: int = Status.STATUS_CODE_UNSET
    status_message: str = ""

    def to_proto(self) -> Span:
        return Span(
            trace_id=self.trace_id,
            span_id=self.span_id,
            parent_span_id=self.parent_span_id,
            name=self.name,
            kind=self.kind,  # type: ignore[arg-type]
            start_time_unix_nano=self.start_ns,
            end_time_unix_nano=self.start_ns + self.duration_ns,
            attributes=[kv(k, v) for k, v in self.attributes.items()],
            status=Status(code=self.status_code, message=self.status_message),  # type: ignore[arg-type]
        )


def build_request(spans: list[SpanSpec], service: str = "shop") -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource={"attributes": [kv("service.name", service)]},
                scope_spans=[ScopeSpans(spans=[s.to_proto() for s in spans])],
            )
        ]
    )


def http_server_span(route: str = "/items/{id}", status: int = 200, **overrides: object) -> SpanSpec:
    """A server span with the ten attributes a typical HTTP instrumentation records."""
    spec = SpanSpec(
        name=f"GET {route}",
        attributes={
            "http.request.method": "GET",
            "http.route": route,
            "http.response.status_code": status,
            "url.path": route.replace("{id}", "42"),
            "url.scheme": "http",
            "server.address": "shop.internal",
            "server.port": 8080,
            "network.protocol.version": "1.1",
            "user_agent.original": "loadgen/1.0",
            "client.address": "10.0.0.7",
        },
    )
    for key, value in overrides.items():
        setattr(spec, key, value)
    return spec
