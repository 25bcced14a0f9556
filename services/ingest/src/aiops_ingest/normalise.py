"""Turn OTLP spans and simple telemetry records into the platform's one span model.

A span that cannot be stored usefully (bad ids, no start time, outside the retention window)
is refused with a reason (aiops_ingest.normalised).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status
from pydantic import JsonValue

from aiops_core.models import SpanFields, SpanKind
from aiops_core.peers import infer_peer, instance_of
from aiops_ingest.attributes import MAX_SERVICE, UNKNOWN_SERVICE, AttributeReader
from aiops_ingest.normalised import NS_PER_S, Limits, Normalised, clean
from aiops_ingest.route_templates import template_path
from aiops_ingest.schemas import TelemetryRecord

_KINDS = {
    OtlpSpan.SPAN_KIND_UNSPECIFIED: SpanKind.UNSPECIFIED,
    OtlpSpan.SPAN_KIND_INTERNAL: SpanKind.INTERNAL,
    OtlpSpan.SPAN_KIND_SERVER: SpanKind.SERVER,
    OtlpSpan.SPAN_KIND_CLIENT: SpanKind.CLIENT,
    OtlpSpan.SPAN_KIND_PRODUCER: SpanKind.PRODUCER,
    OtlpSpan.SPAN_KIND_CONSUMER: SpanKind.CONSUMER,
}

# Resource attributes worth keeping on each span (service.name becomes the span's service).
RESOURCE_KEYS = frozenset(
    {
        "service.version",
        "service.namespace",
        "service.instance.id",
        "host.name",
        "deployment.environment",
        "deployment.environment.name",
        "k8s.namespace.name",
        "k8s.pod.name",
    }
)

# Old and current semantic-convention names of the HTTP attributes the platform reads.
_STATUS_KEYS = ("http.response.status_code", "http.status_code")
_METHOD_KEYS = ("http.request.method", "http.method")
_URL_KEYS = ("url.path", "http.target", "url.full", "http.url")

# All-zero ids are invalid (the OTLP specification).
_NO_TRACE_ID = bytes(16)
_NO_SPAN_ID = bytes(8)
_MAX_OPERATION = 512
_MAX_ERROR_MESSAGE = 2048

NormalisedSpans = Normalised[SpanFields]


class SpanNormaliser:
    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._reader = AttributeReader(limits)

    # -- OTLP -----------------------------------------------------------------------------

    def from_otlp(self, request: ExportTraceServiceRequest) -> NormalisedSpans:
        result = NormalisedSpans()
        oldest, newest = self._limits.time_window_ns()
        for resource_spans in request.resource_spans:
            service, resource_attributes = self._reader.resource(resource_spans.resource, RESOURCE_KEYS)
            for scope_spans in resource_spans.scope_spans:
                for otlp_span in scope_spans.spans:
                    span = self._span(otlp_span, service, resource_attributes, oldest, newest)
                    if isinstance(span, str):
                        result.rejected[span] += 1
                    else:
                        result.items.append(span)
        return result

    def _span(
        self,
        otlp: OtlpSpan,
        service: str,
        resource_attributes: dict[str, JsonValue],
        oldest_ns: int,
        newest_ns: int,
    ) -> SpanFields | str:
        """The span, or the reason it is refused. Each field is read from the protobuf once: every
        read builds a new Python object, and this runs for every span ingest receives."""
        trace_id, span_id, parent = otlp.trace_id, otlp.span_id, otlp.parent_span_id
        start_ns, end_ns = otlp.start_time_unix_nano, otlp.end_time_unix_nano
        if len(trace_id) != 16 or trace_id == _NO_TRACE_ID:
            return "invalid_trace_id"
        if len(span_id) != 8 or span_id == _NO_SPAN_ID:
            return "invalid_span_id"
        if parent and len(parent) != 8:
            return "invalid_parent_span_id"
        if start_ns == 0:
            return "missing_start_time"
        if end_ns < start_ns:
            return "ends_before_start"
        if start_ns < oldest_ns:
            return "too_old"
        if start_ns > newest_ns:
            return "in_future"
        attributes = self._reader.attributes(otlp.attributes)
        kind = _KINDS.get(otlp.kind, SpanKind.UNSPECIFIED)
        http_status = _first_int(attributes, _STATUS_KEYS)
        status = otlp.status
        is_error = _is_error(status.code, kind, http_status)
        for key, value in resource_attributes.items():
            attributes.setdefault(key, value)
        peer = infer_peer(kind, attributes)
        # A literal, not SpanFields(...): calling a TypedDict costs twice as much, for every span.
        fields: SpanFields = {
            "trace_id": trace_id.hex(),
            "span_id": span_id.hex(),
            "parent_span_id": parent.hex() if parent and parent != _NO_SPAN_ID else None,
            "service": service,
            "operation": clean(_operation(otlp.name, attributes), _MAX_OPERATION) or "unknown",
            "kind": kind.value,
            "start_time_unix_nano": start_ns,
            "duration_ns": end_ns - start_ns,
            "http_status": http_status,
            "is_error": is_error,
            "error_message": self._error_message(otlp, status, http_status) if is_error else None,
            "attributes": attributes,
            "peer": peer.name if peer else None,
            "peer_kind": peer.kind.value if peer else None,
            "instance": instance_of(attributes),
        }
        return fields

    @staticmethod
    def _error_message(otlp: OtlpSpan, status: Status, http_status: int | None) -> str:
        if status.message:
            return clean(status.message, _MAX_ERROR_MESSAGE)
        for event in otlp.events:
            if event.name == "exception":
                fields = {kv.key: kv.value.string_value for kv in event.attributes}
                text = ": ".join(
                    part for part in (fields.get("exception.type"), fields.get("exception.message")) if part
                )
                if text:
                    return clean(text, _MAX_ERROR_MESSAGE)
        return f"HTTP {http_status}" if http_status else "error"

    # -- simple JSON telemetry --------------------------------------------------------------

    def from_records(self, records: Iterable[TelemetryRecord]) -> NormalisedSpans:
        result = NormalisedSpans()
        oldest, newest = self._limits.time_window_ns()
        for record in records:
            start = (
                record.timestamp.astimezone(UTC)
                if record.timestamp.tzinfo
                else record.timestamp.replace(tzinfo=UTC)
            )
            start_ns = int(start.timestamp()) * NS_PER_S + start.microsecond * 1000
            if start_ns < oldest:
                result.rejected["too_old"] += 1
                continue
            if start_ns > newest:
                result.rejected["in_future"] += 1
                continue
            method = record.method.upper()
            route = template_path(record.endpoint)
            is_error = record.status_code >= 500 or record.error_message is not None
            result.items.append(
                SpanFields(
                    trace_id=record.trace_id or secrets.token_hex(16),
                    parent_span_id=None,
                    span_id=secrets.token_hex(8),
                    service=clean(record.service_name, MAX_SERVICE) or UNKNOWN_SERVICE,
                    operation=clean(f"{method} {route}", _MAX_OPERATION),
                    kind=SpanKind.SERVER.value,
                    start_time_unix_nano=start_ns,
                    duration_ns=round(record.latency_ms * 1_000_000),
                    http_status=record.status_code,
                    is_error=is_error,
                    error_message=(
                        clean(record.error_message or f"HTTP {record.status_code}", _MAX_ERROR_MESSAGE)
                        if is_error
                        else None
                    ),
                    attributes={
                        "http.request.method": method,
                        "http.route": route,
                        "url.path": clean(record.endpoint, self._limits.max_attribute_length),
                        "http.response.status_code": record.status_code,
                    },
                    peer=None,
                    peer_kind=None,
                    instance=None,
                )
            )
        return result


def _first_int(attributes: dict[str, JsonValue], keys: tuple[str, ...]) -> int | None:
    """The first of `keys` holding a plausible HTTP status code."""
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value if 100 <= value <= 999 else None
    return None


def _first_str(attributes: dict[str, JsonValue], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _is_error(status_code: int, kind: SpanKind, http_status: int | None) -> bool:
    """OpenTelemetry's rules: an explicit status wins; otherwise 5xx is a server error and a
    client also counts 4xx (its request failed)."""
    if status_code == Status.STATUS_CODE_ERROR:
        return True
    if status_code == Status.STATUS_CODE_OK or http_status is None:
        return False
    return http_status >= (400 if kind is SpanKind.CLIENT else 500)


def _operation(name: str, attributes: dict[str, JsonValue]) -> str:
    method = _first_str(attributes, _METHOD_KEYS)
    route = _first_str(attributes, ("http.route",))
    if route is None:
        url = _first_str(attributes, _URL_KEYS)
        route = template_path(url) if url else None
    if route is not None:
        return f"{method.upper()} {route}" if method else route
    # No HTTP attributes: trust the name, but template it if it looks like a path.
    verb, _, rest = name.partition(" ")
    if name.startswith("/"):
        return template_path(name)
    if rest.startswith("/"):
        return f"{verb} {template_path(rest)}"
    return name or "unknown"
