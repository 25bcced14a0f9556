import gzip
import json

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from aiops_core.errors import BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from aiops_ingest.otlp import (
    TRACES,
    Encoding,
    decompress,
    encode_response,
    encode_status,
    encoding_of,
    parse_request,
)
from tests.support.otlp import SpanSpec, build_request

TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")


def _otlp_json(trace_id: str = TRACE_ID.hex(), span_id: str = SPAN_ID.hex()) -> dict[str, object]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "payment"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "parentSpanId": "",
                                "name": "POST /payment",
                                "kind": 2,
                                "startTimeUnixNano": "1764244800000000000",
                                "endTimeUnixNano": "1764244800250000000",
                                "attributes": [
                                    {"key": "http.response.status_code", "value": {"intValue": "502"}}
                                ],
                                "status": {"code": 2, "message": "card declined"},
                            }
                        ]
                    }
                ],
            }
        ]
    }


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/x-protobuf", Encoding.PROTOBUF),
        ("application/protobuf", Encoding.PROTOBUF),
        ("application/json", Encoding.JSON),
        ("Application/JSON; charset=utf-8", Encoding.JSON),
    ],
)
def test_supported_content_types(content_type: str, expected: Encoding) -> None:
    assert encoding_of(content_type) is expected


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/grpc", "multipart/form-data"])
def test_other_content_types_are_unsupported(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaTypeError, match="not supported"):
        encoding_of(content_type)


def test_protobuf_round_trip() -> None:
    request = build_request([SpanSpec(trace_id=TRACE_ID, span_id=SPAN_ID, name="GET /x")], service="cart")
    parsed = parse_request(request.SerializeToString(), Encoding.PROTOBUF, TRACES)
    span = parsed.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == TRACE_ID
    assert span.span_id == SPAN_ID
    assert span.name == "GET /x"


def test_json_ids_are_hex_not_base64() -> None:
    parsed = parse_request(json.dumps(_otlp_json()).encode(), Encoding.JSON, TRACES)
    span = parsed.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == TRACE_ID
    assert span.span_id == SPAN_ID
    assert span.start_time_unix_nano == 1764244800000000000
    assert span.status.message == "card declined"
    assert span.attributes[0].value.int_value == 502


def test_json_with_a_non_hex_id_keeps_the_request_and_spoils_the_id() -> None:
    # Spoiled, not emptied: an empty id means "none" where ids are optional (log records).
    parsed = parse_request(json.dumps(_otlp_json(trace_id="not-hex")).encode(), Encoding.JSON, TRACES)
    assert len(parsed.resource_spans[0].scope_spans[0].spans[0].trace_id) not in (0, 16)


@pytest.mark.parametrize(
    ("body", "encoding", "message"),
    [
        (b"\xff\xff\xff\xff", Encoding.PROTOBUF, "not a valid ExportTraceServiceRequest"),
        (b"{not json", Encoding.JSON, "not valid JSON"),
        (b"[1, 2]", Encoding.JSON, "must be a JSON object"),
        (b'{"resourceSpans": 5}', Encoding.JSON, "not a valid OTLP JSON ExportTraceServiceRequest"),
        (b"\xc3\x28", Encoding.JSON, "not valid JSON"),
    ],
)
def test_malformed_bodies_are_bad_requests(body: bytes, encoding: Encoding, message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        parse_request(body, encoding, TRACES)


def test_gzip_is_inflated() -> None:
    raw = build_request([SpanSpec()]).SerializeToString()
    assert decompress(gzip.compress(raw), "gzip", 1 << 20) == raw
    assert decompress(raw, None, 1 << 20) == raw
    assert decompress(raw, "identity", 1 << 20) == raw


def test_gzip_bomb_is_refused_before_it_inflates() -> None:
    bomb = gzip.compress(b"\0" * (10 << 20))
    assert len(bomb) < 20_000
    with pytest.raises(PayloadTooLargeError, match="exceeds 1048576 bytes"):
        decompress(bomb, "gzip", 1 << 20)


def test_broken_gzip_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError, match="not valid gzip"):
        decompress(b"definitely not gzip", "gzip", 1 << 20)
    with pytest.raises(BadRequestError, match="truncated"):
        decompress(gzip.compress(b"x" * 1000)[:-12], "gzip", 1 << 20)


@pytest.mark.parametrize("coding", ["br", "deflate", "zstd"])
def test_other_content_encodings_are_unsupported(coding: str) -> None:
    with pytest.raises(UnsupportedMediaTypeError, match="Content-Encoding"):
        decompress(b"", coding, 1 << 20)


def test_response_reports_partial_success_in_both_encodings() -> None:
    response = ExportTraceServiceResponse.FromString(
        encode_response(TRACES, 3, "3 refused: no start time", Encoding.PROTOBUF)
    )
    assert response.partial_success.rejected_spans == 3
    as_json = json.loads(encode_response(TRACES, 3, "3 refused: no start time", Encoding.JSON))
    assert as_json == {"partialSuccess": {"rejectedSpans": "3", "errorMessage": "3 refused: no start time"}}
    assert encode_response(TRACES, 0, "", Encoding.PROTOBUF) == b""
    assert json.loads(encode_response(TRACES, 0, "", Encoding.JSON)) == {}


def test_status_error_body() -> None:
    assert json.loads(encode_status(3, "bad", Encoding.JSON)) == {"code": 3, "message": "bad"}
    from google.rpc import status_pb2

    status = status_pb2.Status.FromString(encode_status(14, "broker down", Encoding.PROTOBUF))
    assert (status.code, status.message) == (14, "broker down")
    assert json_format.MessageToDict(status) == {"code": 14, "message": "broker down"}
