"""Turn OTLP spans and simple telemetry records into the platform's one span model.

A span that cannot be stored usefully (bad ids, no start time, outside the retention window)
is refused with a reason, counted, and reported to the client as a partial success; the rest
of its request goes through.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status
from pydantic import JsonValue

from aiops_core.models import SpanFields, SpanKind
from aiops_core.peers import infer_peer, instance_of
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
_RESOURCE_KEYS = frozenset(
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

# Reason codes (metric labels) and what they mean to the client.
_REASONS = {
    "invalid_trace_id": "trace id is not 16 bytes or is all zero",
    "invalid_span_id": "span id is not 8 bytes or is all zero",
    "invalid_parent_span_id": "parent span id is not 8 bytes",
    "missing_start_time": "no start time",
    "ends_before_start": "end time before start time",
    "too_old": "started before the retention period",
    "in_future": "starts in the future beyond the allowed clock skew",
}

# All-zero ids are invalid (the OTLP specification).
_NO_TRACE_ID = bytes(16)
_NO_SPAN_ID = bytes(8)
_MAX_KEY = 128
_MAX_SERVICE = 256
_MAX_OPERATION = 512
_MAX_ERROR_MESSAGE = 2048
_NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class Limits:
    max_attributes: int = 32
    max_attribute_length: int = 256
    max_age_s: int = 7 * 24 * 3600
    max_clock_skew_s: int = 3600


@dataclass
class NormalisedSpans:
    spans: list[SpanFields] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected.values())

    def rejection_message(self) -> str:
        return "; ".join(
            f"{count} refused: {_REASONS.get(reason, reason.replace('_', ' '))}"
            for reason, count in sorted(self.rejected.items())
        )


def _clean(text: str, limit: int) -> str:
    # PostgreSQL text and jsonb cannot hold NUL characters.
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text[:limit]


class SpanNormaliser:
    def __init__(self, limits: Limits) -> None:
        self._limits = limits

    def _time_window_ns(self) -> tuple[int, int]:
        now = time.time_ns()
        return now - self._limits.max_age_s * _NS_PER_S, now + self._limits.max_clock_skew_s * _NS_PER_S

    # -- OTLP -----------------------------------------------------------------------------

    def from_otlp(self, request: ExportTraceServiceRequest) -> NormalisedSpans:
        result = NormalisedSpans()
        oldest, newest = self._time_window_ns()
        for resource_spans in request.resource_spans:
            service = "unknown_service"
            resource_attributes: dict[str, JsonValue] = {}
            for kv in resource_spans.resource.attributes:
                if kv.key == "service.name":
                    service = _clean(str(self._value(kv.value)), _MAX_SERVICE) or service
                elif kv.key in _RESOURCE_KEYS:
                    resource_attributes[kv.key] = self._value(kv.value)
            for scope_spans in resource_spans.scope_spans:
                for otlp_span in scope_spans.spans:
                    span = self._span(otlp_span, service, resource_attributes, oldest, newest)
                    if isinstance(span, str):
                        result.rejected[span] += 1
                    else:
                        result.spans.append(span)
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
        attributes = self._attributes(otlp.attributes)
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
            "operation": _clean(_operation(otlp.name, attributes), _MAX_OPERATION) or "unknown",
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

    def _attributes(self, kvs: Iterable[KeyValue]) -> dict[str, JsonValue]:
        # The hot loop of ingest (a dozen attributes a span): strings, the common case, are
        # handled inline rather than through `_value`.
        attributes: dict[str, JsonValue] = {}
        max_count, max_length = self._limits.max_attributes, self._limits.max_attribute_length
        for kv in kvs:
            if len(attributes) >= max_count:
                break
            key = kv.key
            if len(key) > _MAX_KEY or "\x00" in key:
                key = _clean(key, _MAX_KEY)
            value = kv.value
            # Any other kind of value reads as "": a non-empty string needs no WhichOneof.
            text = value.string_value
            if text:
                if len(text) > max_length or "\x00" in text:
                    text = _clean(text, max_length)
                attributes[key] = text
            else:
                other = self._value(value)
                if other is not None:
                    attributes[key] = other
        return attributes

    def _value(self, value: AnyValue) -> JsonValue:
        which = value.WhichOneof("value")
        if which == "string_value":
            return _clean(value.string_value, self._limits.max_attribute_length)
        if which == "int_value":
            return value.int_value
        if which == "bool_value":
            return value.bool_value
        if which == "double_value":
            return value.double_value
        if which == "array_value":
            return [
                _clean(str(self._value(item)), self._limits.max_attribute_length)
                for item in value.array_value.values[: self._limits.max_attributes]
            ]
        if which == "bytes_value":
            return value.bytes_value.hex()[: self._limits.max_attribute_length]
        if which == "kvlist_value":
            return _clean(
                str({kv.key: self._value(kv.value) for kv in value.kvlist_value.values}),
                self._limits.max_attribute_length,
            )
        return None

    @staticmethod
    def _error_message(otlp: OtlpSpan, status: Status, http_status: int | None) -> str:
        if status.message:
            return _clean(status.message, _MAX_ERROR_MESSAGE)
        for event in otlp.events:
            if event.name == "exception":
                fields = {kv.key: kv.value.string_value for kv in event.attributes}
                text = ": ".join(
                    part for part in (fields.get("exception.type"), fields.get("exception.message")) if part
                )
                if text:
                    return _clean(text, _MAX_ERROR_MESSAGE)
        return f"HTTP {http_status}" if http_status else "error"

    # -- simple JSON telemetry --------------------------------------------------------------

    def from_records(self, records: Iterable[TelemetryRecord]) -> NormalisedSpans:
        result = NormalisedSpans()
        oldest, newest = self._time_window_ns()
        for record in records:
            start = (
                record.timestamp.astimezone(UTC)
                if record.timestamp.tzinfo
                else record.timestamp.replace(tzinfo=UTC)
            )
            start_ns = int(start.timestamp()) * _NS_PER_S + start.microsecond * 1000
            if start_ns < oldest:
                result.rejected["too_old"] += 1
                continue
            if start_ns > newest:
                result.rejected["in_future"] += 1
                continue
            method = record.method.upper()
            route = template_path(record.endpoint)
            is_error = record.status_code >= 500 or record.error_message is not None
            result.spans.append(
                SpanFields(
                    trace_id=record.trace_id or secrets.token_hex(16),
                    parent_span_id=None,
                    span_id=secrets.token_hex(8),
                    service=_clean(record.service_name, _MAX_SERVICE) or "unknown_service",
                    operation=_clean(f"{method} {route}", _MAX_OPERATION),
                    kind=SpanKind.SERVER.value,
                    start_time_unix_nano=start_ns,
                    duration_ns=round(record.latency_ms * 1_000_000),
                    http_status=record.status_code,
                    is_error=is_error,
                    error_message=(
                        _clean(record.error_message or f"HTTP {record.status_code}", _MAX_ERROR_MESSAGE)
                        if is_error
                        else None
                    ),
                    attributes={
                        "http.request.method": method,
                        "http.route": route,
                        "url.path": _clean(record.endpoint, self._limits.max_attribute_length),
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
