"""Ingest's OTLP/HTTP contract for metrics and logs, on the real RabbitMQ: what it answers and
what reaches the writers' queues."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

from aiops_core.bus.topology import LOG_STORE_QUEUE, METRIC_STORE_QUEUE, SPAN_STORE_QUEUE
from aiops_detector.writer.batch import StoredLogBatch, StoredPointBatch
from aiops_ingest.app import create_app
from aiops_ingest.settings import IngestSettings
from tests.support.apps import running
from tests.support.bus import depth, drain
from tests.support.otlp import counter, gauge, log_record, logs_request, metrics_request, number_point
from tests.support.processes import free_port

PROTOBUF = {"content-type": "application/x-protobuf"}
NOW = time.time_ns()


@pytest.fixture
async def client(broker_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = IngestSettings(broker_url=broker_url, batch_linger_ms=5, ingest_tokens=["secret"])
    async with running(create_app(settings)) as client:
        client.headers["authorization"] = "Bearer secret"
        yield client


async def point_batches(broker_url: str) -> list[StoredPointBatch]:
    messages = await drain(broker_url, METRIC_STORE_QUEUE.name)
    return [msgspec.json.decode(m.body, type=StoredPointBatch) for m in messages]


async def log_batches(broker_url: str) -> list[StoredLogBatch]:
    messages = await drain(broker_url, LOG_STORE_QUEUE.name)
    return [msgspec.json.decode(m.body, type=StoredLogBatch) for m in messages]


async def test_metrics_in_protobuf_go_to_the_metric_writers_queue(
    client: httpx.AsyncClient, broker_url: str
) -> None:
    request = metrics_request(
        [
            gauge("process.memory.usage", [number_point(1024.0, NOW)], unit="By"),
            counter(
                "requests", [number_point(5, NOW, start_ns=NOW - 10**9), number_point(float("inf"), NOW)]
            ),
        ],
        service="payment",
    )
    response = await client.post("/v1/metrics", content=request.SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200
    partial = ExportMetricsServiceResponse.FromString(response.content).partial_success
    assert (partial.rejected_data_points, partial.error_message) == (
        1,
        "1 refused: value is not a finite number",
    )
    [batch] = await point_batches(broker_url)
    assert [(p.name, p.kind, p.value, p.service) for p in batch.points] == [
        ("process.memory.usage", "gauge", 1024.0, "payment"),
        ("requests", "sum", 5.0, "payment"),
    ]
    assert await depth(broker_url, SPAN_STORE_QUEUE.name) == 0
    metrics = (await client.get("/metrics")).text
    assert "aiops_ingest_metric_points_total 2.0" in metrics
    assert 'aiops_ingest_rejected_total{reason="not_finite",signal="metrics"} 1.0' in metrics


async def test_logs_in_gzipped_json_keep_their_hex_trace_ids(
    client: httpx.AsyncClient, broker_url: str
) -> None:
    body = {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "payment"}}]},
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": str(NOW),
                                "severityNumber": 17,
                                "body": {"stringValue": "card declined"},
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                            },
                            {"timeUnixNano": str(NOW), "body": {"stringValue": "bad"}, "traceId": "xyz"},
                        ]
                    }
                ],
            }
        ]
    }
    response = await client.post(
        "/v1/logs",
        content=gzip.compress(json.dumps(body).encode()),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "partialSuccess": {
            "rejectedLogRecords": "1",
            "errorMessage": "1 refused: trace id is not 16 bytes or is all zero",
        }
    }
    [batch] = await log_batches(broker_url)
    [record] = batch.records
    assert (record.body, record.trace_id, record.span_id) == (
        "card declined",
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
    )


@pytest.mark.parametrize("path", ["/v1/metrics", "/v1/logs"])
async def test_bad_requests_are_answered_as_the_spec_says_and_nothing_is_published(
    client: httpx.AsyncClient, broker_url: str, path: str
) -> None:
    garbled = await client.post(path, content=b"\xff\xff\xff", headers=PROTOBUF)
    assert garbled.status_code == 400
    assert status_pb2.Status.FromString(garbled.content).code == 3  # INVALID_ARGUMENT

    not_json = await client.post(path, content=b"[1]", headers={"content-type": "application/json"})
    assert (not_json.status_code, not_json.json()["code"]) == (400, 3)

    anonymous = await client.post(path, content=b"", headers=PROTOBUF | {"authorization": ""})
    assert anonymous.status_code == 401
    assert status_pb2.Status.FromString(anonymous.content).code == 16  # UNAUTHENTICATED

    too_big = await client.post(path, content=b"x", headers=PROTOBUF | {"content-encoding": "br"})
    assert too_big.status_code == 415

    assert await depth(broker_url, METRIC_STORE_QUEUE.name) == 0
    assert await depth(broker_url, LOG_STORE_QUEUE.name) == 0


async def test_an_empty_export_is_accepted_and_publishes_nothing(
    client: httpx.AsyncClient, broker_url: str
) -> None:
    for path, request in (("/v1/metrics", metrics_request([])), ("/v1/logs", logs_request([]))):
        response = await client.post(path, content=request.SerializeToString(), headers=PROTOBUF)
        assert (response.status_code, response.content) == (200, b"")
    assert await depth(broker_url, METRIC_STORE_QUEUE.name) == 0
    assert await depth(broker_url, LOG_STORE_QUEUE.name) == 0


async def test_logs_partial_success_in_protobuf(client: httpx.AsyncClient, broker_url: str) -> None:
    request = logs_request([log_record("kept"), log_record("no time", time_ns=0)])
    response = await client.post("/v1/logs", content=request.SerializeToString(), headers=PROTOBUF)
    partial = ExportLogsServiceResponse.FromString(response.content).partial_success
    assert (partial.rejected_log_records, partial.error_message) == (1, "1 refused: no time")
    [batch] = await log_batches(broker_url)
    assert [r.body for r in batch.records] == ["kept"]


@pytest.mark.parametrize("path", ["/v1/metrics", "/v1/logs"])
async def test_an_unreachable_broker_means_503_with_retry_after(path: str) -> None:
    unreachable = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    body = (
        metrics_request([gauge("g", [number_point(1.0, NOW)])])
        if path == "/v1/metrics"
        else logs_request([log_record("x")])
    ).SerializeToString()
    async with running(create_app(IngestSettings(broker_url=unreachable)), wait_ready=False) as client:
        response = await client.post(path, content=body, headers=PROTOBUF)
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert status_pb2.Status.FromString(response.content).code == 14  # UNAVAILABLE


@pytest.mark.parametrize("path", ["/v1/metrics", "/v1/logs"])
async def test_a_body_over_the_limit_is_413_before_or_after_decompression(broker_url: str, path: str) -> None:
    settings = IngestSettings(broker_url=broker_url, max_body_bytes=4096)
    async with running(create_app(settings)) as client:
        too_long = await client.post(path, content=b"x" * 5000, headers=PROTOBUF)
        inflating = await client.post(
            path, content=gzip.compress(b"\x00" * 100_000), headers=PROTOBUF | {"content-encoding": "gzip"}
        )
    assert (too_long.status_code, inflating.status_code) == (413, 413)
    assert status_pb2.Status.FromString(inflating.content).code == 8  # RESOURCE_EXHAUSTED
    assert (
        await depth(broker_url, METRIC_STORE_QUEUE.name) + await depth(broker_url, LOG_STORE_QUEUE.name) == 0
    )
