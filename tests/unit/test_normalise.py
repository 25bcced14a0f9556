import time
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from aiops_core.models import Span, SpanKind
from aiops_ingest.normalise import NormalisedSpans, SpanNormaliser
from aiops_ingest.normalised import Limits
from aiops_ingest.schemas import TelemetryRecord
from tests.support.otlp import SpanSpec, build_request, http_server_span

normaliser = SpanNormaliser(Limits())


def as_spans(result: NormalisedSpans) -> list[Span]:
    """The normalised spans as a consumer reads them, which also checks they validate."""
    return [Span.model_validate(fields) for fields in result.items]


def _one(spec: SpanSpec, service: str = "shop") -> Span:
    result = normaliser.from_otlp(build_request([spec], service=service))
    assert result.rejected_count == 0, result.rejected
    return as_spans(result)[0]


def test_server_span_is_named_by_method_and_route_template() -> None:
    span = _one(http_server_span(route="/inventory/{sku}"), service="inventory")
    assert span.service == "inventory"
    assert span.operation == "GET /inventory/{sku}"
    assert span.kind is SpanKind.SERVER
    assert span.http_status == 200
    assert span.is_error is False
    assert span.error_message is None


def test_ids_times_and_parent_are_carried_over() -> None:
    spec = SpanSpec(parent_span_id=bytes.fromhex("0102030405060708"), duration_ns=1_500_000)
    span = _one(spec)
    assert span.trace_id == spec.trace_id.hex()
    assert span.span_id == spec.span_id.hex()
    assert span.parent_span_id == "0102030405060708"
    assert span.start_time_unix_nano == spec.start_ns
    assert span.duration_ns == 1_500_000


def test_client_span_without_route_gets_a_templated_url_path() -> None:
    spec = SpanSpec(
        name="POST",
        kind=OtlpSpan.SPAN_KIND_CLIENT,
        attributes={"http.request.method": "POST", "url.full": "http://payment:8081/payment/42?retry=1"},
    )
    assert _one(spec).operation == "POST /payment/{id}"


def test_old_semantic_conventions_are_read_too() -> None:
    spec = SpanSpec(
        name="HTTP GET",
        attributes={"http.method": "get", "http.target": "/orders/17", "http.status_code": 503},
    )
    span = _one(spec)
    assert span.operation == "GET /orders/{id}"
    assert span.http_status == 503
    assert span.is_error is True
    assert span.error_message == "HTTP 503"


def test_a_raw_path_as_span_name_is_templated() -> None:
    assert _one(SpanSpec(name="GET /users/123/orders", attributes={})).operation == "GET /users/{id}/orders"
    assert _one(SpanSpec(name="/users/123", attributes={})).operation == "/users/{id}"
    assert _one(SpanSpec(name="charge card", attributes={})).operation == "charge card"


@pytest.mark.parametrize(
    ("kind", "status_code", "http_status", "is_error"),
    [
        (OtlpSpan.SPAN_KIND_SERVER, Status.STATUS_CODE_UNSET, 500, True),
        (OtlpSpan.SPAN_KIND_SERVER, Status.STATUS_CODE_UNSET, 404, False),
        (OtlpSpan.SPAN_KIND_CLIENT, Status.STATUS_CODE_UNSET, 404, True),
        (OtlpSpan.SPAN_KIND_SERVER, Status.STATUS_CODE_OK, 500, False),
        (OtlpSpan.SPAN_KIND_INTERNAL, Status.STATUS_CODE_ERROR, None, True),
        (OtlpSpan.SPAN_KIND_INTERNAL, Status.STATUS_CODE_UNSET, None, False),
    ],
)
def test_error_rules_follow_opentelemetry(
    kind: int, status_code: int, http_status: int | None, is_error: bool
) -> None:
    attributes: dict[str, str | int | float | bool] = {}
    if http_status is not None:
        attributes["http.response.status_code"] = http_status
    span = _one(SpanSpec(kind=kind, status_code=status_code, attributes=attributes))
    assert span.is_error is is_error


def test_error_message_prefers_status_then_exception_event() -> None:
    with_status = _one(SpanSpec(status_code=Status.STATUS_CODE_ERROR, status_message="card declined"))
    assert with_status.error_message == "card declined"

    request = build_request([SpanSpec(status_code=Status.STATUS_CODE_ERROR)])
    event = request.resource_spans[0].scope_spans[0].spans[0].events.add()
    event.name = "exception"
    event.attributes.append(KeyValue(key="exception.type", value=AnyValue(string_value="TimeoutError")))
    event.attributes.append(KeyValue(key="exception.message", value=AnyValue(string_value="upstream slow")))
    assert as_spans(normaliser.from_otlp(request))[0].error_message == "TimeoutError: upstream slow"


def test_attributes_are_bounded_and_cleaned() -> None:
    limited = SpanNormaliser(Limits(max_attributes=3, max_attribute_length=16))
    spec = SpanSpec(attributes={f"k{i}": "v" * 40 for i in range(10)} | {"k0": "a\x00b"})
    span = as_spans(limited.from_otlp(build_request([spec])))[0]
    assert len(span.attributes) == 3
    assert span.attributes["k0"] == "ab"
    assert all(len(str(v)) <= 16 for v in span.attributes.values())


def test_attribute_value_types() -> None:
    request = build_request([SpanSpec(attributes={"s": "x", "i": 7, "f": 0.5, "b": True})])
    span_proto = request.resource_spans[0].scope_spans[0].spans[0]
    span_proto.attributes.append(
        KeyValue(
            key="arr",
            value=AnyValue(
                array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue(string_value="two")])
            ),
        )
    )
    span_proto.attributes.append(KeyValue(key="raw", value=AnyValue(bytes_value=b"\x01\xff")))
    attributes = as_spans(normaliser.from_otlp(request))[0].attributes
    assert attributes == {"s": "x", "i": 7, "f": 0.5, "b": True, "arr": ["1", "two"], "raw": "01ff"}


def test_selected_resource_attributes_are_kept() -> None:
    request = build_request([SpanSpec(attributes={})], service="cart")
    resource = request.resource_spans[0].resource
    resource.attributes.append(KeyValue(key="service.version", value=AnyValue(string_value="1.2.3")))
    resource.attributes.append(KeyValue(key="process.pid", value=AnyValue(int_value=4242)))
    span = as_spans(normaliser.from_otlp(request))[0]
    assert span.attributes == {"service.version": "1.2.3"}


def test_a_client_span_names_its_peer_and_every_span_its_instance() -> None:
    db_call = SpanSpec(
        name="SELECT stock",
        kind=OtlpSpan.SPAN_KIND_CLIENT,
        attributes={"db.system": "postgresql", "server.address": "stock-db", "db.namespace": "stock"},
    )
    request = build_request([db_call, http_server_span()], service="inventory")
    resource = request.resource_spans[0].resource
    resource.attributes.append(KeyValue(key="service.instance.id", value=AnyValue(string_value="inv-2")))
    call, served = as_spans(normaliser.from_otlp(request))
    assert (call.peer, call.peer_kind, call.instance) == ("postgresql stock-db", "database", "inv-2")
    assert call.operation == "SELECT stock"
    assert (served.peer, served.peer_kind, served.instance) == (None, None, "inv-2")


def test_missing_service_name_is_unknown_service() -> None:
    request = build_request([SpanSpec()])
    del request.resource_spans[0].resource.attributes[:]
    assert as_spans(normaliser.from_otlp(request))[0].service == "unknown_service"


def test_invalid_spans_are_refused_with_reasons_and_the_rest_kept() -> None:
    now = time.time_ns()
    day = 86_400 * 10**9
    specs = [
        SpanSpec(),
        SpanSpec(trace_id=bytes(16)),
        SpanSpec(trace_id=b"short"),
        SpanSpec(span_id=bytes(8)),
        SpanSpec(parent_span_id=b"\x01\x02"),
        SpanSpec(start_ns=now - 8 * day),
        SpanSpec(start_ns=now + 2 * 3600 * 10**9),
        SpanSpec(duration_ns=-5),
    ]
    result = normaliser.from_otlp(build_request(specs))
    assert len(result.items) == 1
    assert result.rejected == {
        "invalid_trace_id": 2,
        "invalid_span_id": 1,
        "invalid_parent_span_id": 1,
        "too_old": 1,
        "in_future": 1,
        "ends_before_start": 1,
    }
    assert result.rejected_count == 7
    assert "2 refused: trace id is not 16 bytes or is all zero" in result.rejection_message()


def test_span_without_start_time_is_refused() -> None:
    result = normaliser.from_otlp(build_request([SpanSpec(start_ns=0, duration_ns=0)]))
    assert result.rejected == {"missing_start_time": 1}


def test_overlong_names_are_truncated_not_refused() -> None:
    span = _one(SpanSpec(name="x" * 5000, attributes={}), service="s" * 1000)
    assert len(span.operation) == 512
    assert len(span.service) == 256


def test_records_become_server_spans() -> None:
    record = TelemetryRecord(
        service_name="payment",
        endpoint="/payment/42",
        method="post",
        status_code=502,
        latency_ms=812.5,
        error_message="card processor timed out",
        trace_id="4BF92F35-77B3-4DA6-A3CE-929D0E0E4736",
        timestamp=datetime.now(UTC) - timedelta(seconds=1),
    )
    span = as_spans(normaliser.from_records([record]))[0]
    assert span.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert len(span.span_id) == 16
    assert span.operation == "POST /payment/{id}"
    assert span.kind is SpanKind.SERVER
    assert span.duration_ns == 812_500_000
    assert span.is_error is True
    assert span.error_message == "card processor timed out"
    assert span.attributes["url.path"] == "/payment/42"


def test_a_record_without_trace_id_or_time_gets_both() -> None:
    record = TelemetryRecord(service_name="cart", endpoint="/cart", status_code=200, latency_ms=3)
    span = as_spans(normaliser.from_records([record]))[0]
    assert len(span.trace_id) == 32
    assert abs(span.start_time_unix_nano - time.time_ns()) < 5 * 10**9
    assert span.is_error is False


def test_a_naive_record_timestamp_is_utc() -> None:
    naive = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    record = TelemetryRecord(
        service_name="cart", endpoint="/cart", status_code=200, latency_ms=3, timestamp=naive
    )
    span = as_spans(normaliser.from_records([record]))[0]
    assert span.start_time_unix_nano == int(naive.replace(tzinfo=UTC).timestamp() * 1e6) * 1000


def test_old_records_are_refused() -> None:
    record = TelemetryRecord(
        service_name="cart",
        endpoint="/cart",
        status_code=200,
        latency_ms=3,
        timestamp=datetime.now(UTC) - timedelta(days=30),
    )
    assert normaliser.from_records([record]).rejected == {"too_old": 1}


@pytest.mark.parametrize("trace_id", ["xyz", "00000000000000000000000000000000", "abc123"])
def test_record_trace_id_must_be_hex(trace_id: str) -> None:
    with pytest.raises(ValueError, match="32 hex digits"):
        TelemetryRecord(service_name="a", endpoint="/", status_code=200, latency_ms=1, trace_id=trace_id)


def test_implausible_http_status_is_dropped_not_stored() -> None:
    assert _one(SpanSpec(attributes={"http.response.status_code": 70000})).http_status is None
    assert _one(SpanSpec(attributes={"http.response.status_code": "404"})).http_status == 404


def test_the_wire_batch_decodes_as_the_model_consumers_read() -> None:
    from uuid import uuid4

    from aiops_core.models import SpanBatch, encode_span_batch
    from aiops_core.windows import WindowBatch, aggregate, wire_deltas

    result = normaliser.from_otlp(build_request([http_server_span(), SpanSpec(attributes={"n": 1.5})]))
    batch_id = uuid4()
    body = encode_span_batch(batch_id, 123, result.items, wire_deltas(aggregate(result.items)))
    batch = SpanBatch.model_validate_json(body)
    assert batch.batch_id == batch_id
    assert batch.created_at_unix_nano == 123
    assert [s.model_dump(mode="json") for s in batch.spans] == [
        s.model_dump(mode="json") for s in as_spans(result)
    ]
    windows = WindowBatch.model_validate_json(body)
    assert (windows.batch_id, windows.created_at_unix_nano) == (batch_id, 123)
    assert windows.deltas() == aggregate(result.items)
