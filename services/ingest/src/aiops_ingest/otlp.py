"""OTLP/HTTP requests and responses of the three signals, in both encodings the specification
allows.

Protobuf is parsed by the C (upb) protobuf runtime. JSON follows the OTLP JSON mapping, where
trace and span ids are hex strings rather than protobuf-JSON's base64, so they are converted
before `json_format` parses the rest; both encodings then yield the same message.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2  # type: ignore[import-untyped]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from aiops_core.errors import BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError


@dataclass(frozen=True)
class Signal:
    """One OTLP signal: its path, its request and response messages, and where in them the
    items are."""

    name: str
    request: type[Message]
    response: type[Message]
    # The response's partial_success field counting refused items.
    rejected_field: str
    # The JSON keys from the request down to the items whose ids are hex in OTLP JSON.
    items_path: tuple[tuple[str, str], ...]

    @property
    def path(self) -> str:
        return f"/v1/{self.name}"

    @property
    def grpc_service(self) -> str:
        """The full name of the signal's gRPC collector service, the one its request belongs to."""
        [service] = self.request.DESCRIPTOR.file.services_by_name.values()
        return str(service.full_name)


TRACES = Signal(
    "traces",
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
    "rejected_spans",
    (("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans"), ("spans", "spans")),
)
METRICS = Signal(
    "metrics",
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
    "rejected_data_points",
    # Ids appear only in exemplars, which are not kept: left as they come.
    (),
)
LOGS = Signal(
    "logs",
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
    "rejected_log_records",
    (("resourceLogs", "resource_logs"), ("scopeLogs", "scope_logs"), ("logRecords", "log_records")),
)
SIGNALS = (TRACES, METRICS, LOGS)


class Encoding(StrEnum):
    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


_MEDIA_TYPES = {
    "application/x-protobuf": Encoding.PROTOBUF,
    "application/protobuf": Encoding.PROTOBUF,
    "application/json": Encoding.JSON,
}


def encoding_of(content_type: str | None) -> Encoding:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        return _MEDIA_TYPES[media_type]
    except KeyError:
        raise UnsupportedMediaTypeError(
            f"Content-Type {media_type or '(none)'!r} is not supported; "
            "send application/x-protobuf or application/json"
        ) from None


def decompress(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """Undo `Content-Encoding: gzip`, refusing to inflate past `max_bytes`."""
    coding = (content_encoding or "identity").strip().lower()
    if coding == "identity":
        return body
    if coding not in ("gzip", "x-gzip"):
        raise UnsupportedMediaTypeError(
            f"Content-Encoding {coding!r} is not supported; send gzip or no encoding"
        )
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes)
    except zlib.error as exc:
        raise BadRequestError(f"body is not valid gzip: {exc}") from exc
    if inflater.unconsumed_tail:
        raise PayloadTooLargeError(f"decompressed body exceeds {max_bytes} bytes")
    if not inflater.eof:
        raise BadRequestError("body is not valid gzip: truncated stream")
    return data


def parse_request(body: bytes, encoding: Encoding, signal: Signal) -> Any:
    """The signal's export request; 400 for a body that is not one."""
    request = signal.request()
    kind = signal.request.__name__
    if encoding is Encoding.PROTOBUF:
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise BadRequestError(f"body is not a valid {kind}: {exc}") from exc
        return request
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequestError(f"body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise BadRequestError(f"body must be a JSON object (an OTLP {kind})")
    try:
        json_format.ParseDict(
            _hex_ids_to_base64(document, signal.items_path), request, ignore_unknown_fields=True
        )
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise BadRequestError(f"body is not a valid OTLP JSON {kind}: {exc}") from exc
    return request


# One zero byte: no id has that length.
_NOT_AN_ID = base64.b64encode(b"\x00").decode()
_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_ids_to_base64(document: dict[str, Any], path: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """Rewrite OTLP JSON's hex ids into protobuf JSON's base64, in place, in the items at `path`
    (and their links).

    An id that is not hex becomes one of the wrong length (not an empty one, which means "none"
    for a log record's), so that the item is refused with a reason rather than the whole request
    failing."""
    if not path:
        return document
    level: list[Any] = [document]
    for keys in path:
        level = [child for parent in level for child in _list(parent, *keys)]
    for item in level:
        if not isinstance(item, dict):
            continue
        _convert_ids(item)
        for link in _list(item, "links"):
            if isinstance(link, dict):
                _convert_ids(link)
    return document


def _list(obj: Any, *keys: str) -> list[Any]:
    if not isinstance(obj, dict):
        return []
    for key in keys:
        value = obj.get(key)
        if isinstance(value, list):
            return value
    return []


def _convert_ids(obj: dict[str, Any]) -> None:
    for key in _ID_FIELDS:
        value = obj.get(key)
        if isinstance(value, str):
            try:
                obj[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                obj[key] = _NOT_AN_ID


def response_message(signal: Signal, rejected: int, message: str) -> Any:
    """The signal's export response: a partial success when some items were refused."""
    response: Any = signal.response()
    if rejected:
        setattr(response.partial_success, signal.rejected_field, rejected)
        response.partial_success.error_message = message
    return response


def encode_response(signal: Signal, rejected: int, message: str, encoding: Encoding) -> bytes:
    response = response_message(signal, rejected, message)
    if encoding is Encoding.PROTOBUF:
        return bytes(response.SerializeToString())
    return json_format.MessageToJson(response, indent=None).encode()


def encode_status(code: int, message: str, encoding: Encoding) -> bytes:
    """An error as the google.rpc.Status the OTLP specification asks for."""
    status = status_pb2.Status(code=code, message=message)
    if encoding is Encoding.PROTOBUF:
        return bytes(status.SerializeToString())
    return json_format.MessageToJson(status, indent=None).encode()
