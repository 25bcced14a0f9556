"""Ingest's HTTP contract, on the real RabbitMQ: what it answers and what reaches the queue."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from aiops_core.bus.topology import SPAN_STORE_QUEUE
from aiops_core.models import SpanBatch
from aiops_ingest.app import create_app
from aiops_ingest.settings import IngestSettings
from tests.support.apps import running
from tests.support.bus import depth, drain
from tests.support.otlp import SpanSpec, build_request, http_server_span
from tests.support.processes import free_port
from tests.support.proxy import TcpProxy
from tests.support.waiting import eventually

PROTOBUF = {"content-type": "application/x-protobuf"}


def settings(broker_url: str, **overrides: Any) -> IngestSettings:
    return IngestSettings(broker_url=broker_url, batch_linger_ms=5, **overrides)


@pytest.fixture
async def client(broker_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(settings(broker_url))) as client:
        yield client


async def stored_batches(broker_url: str) -> list[SpanBatch]:
    return [SpanBatch.model_validate_json(m.body) for m in await drain(broker_url, SPAN_STORE_QUEUE.name)]


async def test_protobuf_export_is_published_as_one_batch(client: httpx.AsyncClient, broker_url: str) -> None:
    specs = [http_server_span() for _ in range(300)]
    response = await client.post(
        "/v1/traces", content=build_request(specs).SerializeToString(), headers=PROTOBUF
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(response.content).HasField("partial_success")
    [batch] = await stored_batches(broker_url)
    assert sorted(s.span_id for s in batch.spans) == sorted(s.span_id.hex() for s in specs)
    assert batch.spans[0].operation == "GET /items/{id}"


async def test_json_and_gzip_exports_are_accepted(client: httpx.AsyncClient, broker_url: str) -> None:
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "GET /cart",
                                "kind": 2,
                                "startTimeUnixNano": str(SpanSpec().start_ns),
                                "endTimeUnixNano": str(SpanSpec().start_ns + 1000),
                            }
                        ]
                    }
                ],
            }
        ]
    }
    as_json = await client.post("/v1/traces", json=body)
    assert as_json.status_code == 200
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == {}
    compressed = gzip.compress(build_request([SpanSpec()]).SerializeToString())
    as_gzip = await client.post(
        "/v1/traces", content=compressed, headers={**PROTOBUF, "content-encoding": "gzip"}
    )
    assert as_gzip.status_code == 200
    spans = [s for b in await stored_batches(broker_url) for s in b.spans]
    assert {s.service for s in spans} == {"cart", "shop"}
    assert "5b8efff798038103d269b633813fc60c" in {s.trace_id for s in spans}


async def test_partial_success_counts_and_explains_refused_spans(
    client: httpx.AsyncClient, broker_url: str
) -> None:
    good = SpanSpec()
    request = build_request([good, SpanSpec(trace_id=bytes(16)), SpanSpec(start_ns=0, duration_ns=0)])
    response = await client.post("/v1/traces", content=request.SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 2
    assert "trace id" in partial.error_message
    assert "no start time" in partial.error_message
    [batch] = await stored_batches(broker_url)
    assert [s.span_id for s in batch.spans] == [good.span_id.hex()]
    metrics = (await client.get("/metrics")).text
    assert 'aiops_ingest_rejected_total{reason="invalid_trace_id",signal="traces"} 1.0' in metrics
    assert "aiops_ingest_spans_total 1.0" in metrics


async def test_errors_are_google_rpc_status_in_the_request_encoding(
    client: httpx.AsyncClient, broker_url: str
) -> None:
    bad_protobuf = await client.post("/v1/traces", content=b"\xff\xff\xff", headers=PROTOBUF)
    assert bad_protobuf.status_code == 400
    status = status_pb2.Status.FromString(bad_protobuf.content)
    assert status.code == 3
    assert "ExportTraceServiceRequest" in status.message

    bad_json = await client.post("/v1/traces", content=b"{oops", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400
    assert "not valid JSON" in bad_json.json()["message"]

    unsupported = await client.post("/v1/traces", content=b"x", headers={"content-type": "text/plain"})
    assert unsupported.status_code == 415
    assert "not supported" in unsupported.json()["message"]
    assert await depth(broker_url, SPAN_STORE_QUEUE.name) == 0


async def test_every_error_under_v1_is_a_status_in_the_request_encoding(client: httpx.AsyncClient) -> None:
    # A signal not served: 404 NOT_FOUND, in protobuf as the request was.
    profiles = await client.post("/v1/profiles", content=b"", headers=PROTOBUF)
    assert (profiles.status_code, profiles.headers["content-type"]) == (404, "application/x-protobuf")
    assert status_pb2.Status.FromString(profiles.content).code == 5

    # The wrong method: 405 UNIMPLEMENTED, in JSON for a request without a protobuf body.
    listed = await client.get("/v1/traces")
    assert (listed.status_code, listed.headers["allow"]) == (405, "POST")
    assert listed.headers["content-type"] == "application/json"
    assert listed.json()["code"] == 12
    assert "GET is not allowed" in listed.json()["message"]

    # Anything else keeps the platform's JSON error body.
    elsewhere = await client.get("/v2/traces")
    assert elsewhere.json()["error"]["code"] == "not_found"


async def test_bodies_above_the_limit_are_refused(broker_url: str) -> None:
    async with running(create_app(settings(broker_url, max_body_bytes=4096))) as client:
        request = build_request([http_server_span() for _ in range(50)]).SerializeToString()
        assert len(request) > 4096
        too_big = await client.post("/v1/traces", content=request, headers=PROTOBUF)
        assert too_big.status_code == 413
        assert status_pb2.Status.FromString(too_big.content).code == 8

        bomb = gzip.compress(b"\0" * 100_000)
        inflated = await client.post(
            "/v1/traces", content=bomb, headers={**PROTOBUF, "content-encoding": "gzip"}
        )
        assert inflated.status_code == 413

        records = [
            {"service_name": "a", "endpoint": "/" + "x" * 100, "status_code": 200, "latency_ms": 1}
        ] * 50
        big_json = await client.post("/api/v1/telemetry", json=records)
        assert big_json.status_code == 413
        assert big_json.json()["error"]["code"] == "payload_too_large"
    assert await depth(broker_url, SPAN_STORE_QUEUE.name) == 0


async def test_telemetry_records_are_accepted_one_or_many(client: httpx.AsyncClient, broker_url: str) -> None:
    record = {
        "service_name": "payment",
        "endpoint": "/payment/42",
        "method": "POST",
        "status_code": 200,
        "latency_ms": 12,
    }
    one = await client.post("/api/v1/telemetry", json=record)
    assert one.status_code == 202
    assert one.json() == {"accepted": 1, "rejected": 0, "message": None}
    many = await client.post("/api/v1/telemetry", json=[record, {**record, "status_code": 503}])
    assert many.json()["accepted"] == 2
    spans = [s for b in await stored_batches(broker_url) for s in b.spans]
    assert len(spans) == 3
    assert {s.operation for s in spans} == {"POST /payment/{id}"}
    assert sum(s.is_error for s in spans) == 1


async def test_a_bad_record_is_422_naming_the_field(client: httpx.AsyncClient, broker_url: str) -> None:
    record = {"service_name": "payment", "endpoint": "/p", "status_code": 200, "latency_ms": 1}
    response = await client.post("/api/v1/telemetry", json=[record, {**record, "status_code": "teapot"}])
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "body.1.status_code"
    missing = await client.post("/api/v1/telemetry", json={"service_name": "payment"})
    assert {d["field"] for d in missing.json()["error"]["details"]} == {
        "body.endpoint",
        "body.status_code",
        "body.latency_ms",
    }
    wrong_type = await client.post(
        "/api/v1/telemetry", content=b"a=b", headers={"content-type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    assert await depth(broker_url, SPAN_STORE_QUEUE.name) == 0


async def test_with_tokens_set_a_wrong_or_missing_token_is_401_and_nothing_is_published(
    broker_url: str,
) -> None:
    app = create_app(settings(broker_url, ingest_tokens=["s3cret", "other"]))
    async with running(app) as client:
        body = build_request([SpanSpec()]).SerializeToString()
        missing = await client.post("/v1/traces", content=body, headers=PROTOBUF)
        wrong = await client.post(
            "/v1/traces", content=body, headers={**PROTOBUF, "authorization": "Bearer nope"}
        )
        records = await client.post(
            "/api/v1/telemetry",
            json={"service_name": "a", "endpoint": "/", "status_code": 200, "latency_ms": 1},
            headers={"authorization": "Bearer nope"},
        )
        assert [r.status_code for r in (missing, wrong, records)] == [401, 401, 401]
        assert status_pb2.Status.FromString(wrong.content).code == 16
        assert records.headers["www-authenticate"] == "Bearer"
        assert await depth(broker_url, SPAN_STORE_QUEUE.name) == 0

        right = await client.post(
            "/v1/traces", content=body, headers={**PROTOBUF, "authorization": "Bearer other"}
        )
        assert right.status_code == 200
        assert await depth(broker_url, SPAN_STORE_QUEUE.name) == 1


async def test_unreachable_broker_means_503_with_retry_after(broker_url: str) -> None:
    unreachable = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    async with running(create_app(settings(unreachable)), wait_ready=False) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["failing"] == ["broker"]
        assert (await client.get("/livez")).status_code == 200
        body = build_request([SpanSpec()]).SerializeToString()
        response = await client.post("/v1/traces", content=body, headers=PROTOBUF)
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) > 0
        assert status_pb2.Status.FromString(response.content).code == 14
        records = await client.post(
            "/api/v1/telemetry",
            json={"service_name": "a", "endpoint": "/", "status_code": 200, "latency_ms": 1},
        )
        assert records.status_code == 503
        assert records.json()["error"]["code"] == "dependency_unavailable"


async def test_a_broker_that_goes_away_and_comes_back(broker_url: str) -> None:
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    proxied = broker_url.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}")
    body = build_request([SpanSpec()]).SerializeToString()
    try:
        async with running(create_app(settings(proxied, publish_timeout_s=2))) as client:
            assert (await client.post("/v1/traces", content=body, headers=PROTOBUF)).status_code == 200
            await proxy.cut()
            down = await client.post("/v1/traces", content=body, headers=PROTOBUF)
            assert down.status_code == 503
            await proxy.restore()
            await eventually(
                lambda: client.post("/v1/traces", content=body, headers=PROTOBUF),
                lambda r: r.status_code == 200,
                timeout_s=60,
                interval_s=0.5,
                what="publishing again after the broker returned",
            )
    finally:
        await proxy.cut()


async def test_openapi_documents_both_endpoints(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert {"/v1/traces", "/api/v1/telemetry", "/livez", "/readyz"} <= set(schema["paths"])
    traces = schema["paths"]["/v1/traces"]["post"]
    assert set(traces["requestBody"]["content"]) == {"application/x-protobuf", "application/json"}
    assert (await client.get("/docs")).status_code == 200
