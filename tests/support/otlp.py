"""OTLP requests (traces, metrics, logs) built directly from the protobuf classes, for tests and
benchmarks."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import SEVERITY_NUMBER_ERROR, LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_CUMULATIVE,
    AGGREGATION_TEMPORALITY_DELTA,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
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


def _resource(service: str, instance: str | None) -> Resource:
    attributes = [kv("service.name", service)]
    if instance:
        attributes.append(kv("service.instance.id", instance))
    return Resource(attributes=attributes)


def metrics_request(
    metrics: list[Metric], service: str = "shop", instance: str | None = "shop-1"
) -> ExportMetricsServiceRequest:
    return ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                resource=_resource(service, instance), scope_metrics=[ScopeMetrics(metrics=metrics)]
            )
        ]
    )


def number_point(
    value: float | int,
    time_ns: int,
    start_ns: int = 0,
    attributes: dict[str, str | int | float | bool] | None = None,
) -> NumberDataPoint:
    point = NumberDataPoint(
        time_unix_nano=time_ns,
        start_time_unix_nano=start_ns,
        attributes=[kv(k, v) for k, v in (attributes or {}).items()],
    )
    if isinstance(value, int):
        point.as_int = value
    else:
        point.as_double = value
    return point


def gauge(name: str, points: list[NumberDataPoint], unit: str = "") -> Metric:
    return Metric(name=name, unit=unit, gauge=Gauge(data_points=points))


def counter(
    name: str, points: list[NumberDataPoint], *, cumulative: bool = True, monotonic: bool = True
) -> Metric:
    temporality = AGGREGATION_TEMPORALITY_CUMULATIVE if cumulative else AGGREGATION_TEMPORALITY_DELTA
    return Metric(
        name=name, sum=Sum(data_points=points, aggregation_temporality=temporality, is_monotonic=monotonic)
    )


def histogram(
    name: str,
    time_ns: int,
    start_ns: int,
    counts: list[int],
    bounds: list[float],
    total: float,
    *,
    cumulative: bool = True,
    attributes: dict[str, str | int | float | bool] | None = None,
) -> Metric:
    temporality = AGGREGATION_TEMPORALITY_CUMULATIVE if cumulative else AGGREGATION_TEMPORALITY_DELTA
    point = HistogramDataPoint(
        time_unix_nano=time_ns,
        start_time_unix_nano=start_ns,
        count=sum(counts),
        sum=total,
        bucket_counts=counts,
        explicit_bounds=bounds,
        attributes=[kv(k, v) for k, v in (attributes or {}).items()],
    )
    return Metric(name=name, histogram=Histogram(data_points=[point], aggregation_temporality=temporality))


def log_record(
    body: str,
    *,
    time_ns: int | None = None,
    severity: int = SEVERITY_NUMBER_ERROR,
    trace_id: bytes = b"",
    span_id: bytes = b"",
    attributes: dict[str, str | int | float | bool] | None = None,
) -> LogRecord:
    return LogRecord(
        time_unix_nano=time.time_ns() if time_ns is None else time_ns,
        severity_number=severity,  # type: ignore[arg-type]
        severity_text="ERROR" if severity >= SEVERITY_NUMBER_ERROR else "INFO",
        body=AnyValue(string_value=body),
        trace_id=trace_id,
        span_id=span_id,
        attributes=[kv(k, v) for k, v in (attributes or {}).items()],
    )


def logs_request(
    records: list[LogRecord], service: str = "shop", instance: str | None = "shop-1"
) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(resource=_resource(service, instance), scope_logs=[ScopeLogs(log_records=records)])
        ]
    )
