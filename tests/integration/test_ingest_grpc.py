"""Ingest's OTLP/gRPC receiver, on the real RabbitMQ and Redis: the three services, their answers
and status codes as the OTLP specification gives them, and what reaches the queues."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import msgspec
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from aiops_core.bus.topology import LOG_STORE_QUEUE, METRIC_STORE_QUEUE, SPAN_STORE_QUEUE
from aiops_detector.writer.batch import StoredLogBatch, StoredPointBatch
from aiops_ingest.app import create_app
from aiops_ingest.settings import IngestSettings
from tests.support.apps import running
from tests.support.bus import depth, drain
from tests.support.otlp import (
    SpanSpec,
    build_request,
    gauge,
    log_record,
    logs_request,
    metrics_request,
    number_point,
)
from tests.support.processes import free_port

TOKEN = (("authorization", "Bearer secret"),)
TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
METRICS = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


def settings(broker_url: str, port: int, **overrides: Any) -> IngestSettings:
    return IngestSettings(
        broker_url=broker_url,
        ingest_grpc_port=port,
        ingest_tokens=["secret"],
        batch_linger_ms=5,
        **overrides,
    )


class Calls:
    """Raw calls to the receiver: the request's bytes in, the response's bytes out."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._channel = channel

    async def export(
        self,
        method: str,
        body: bytes,
        metadata: tuple[tuple[str, str], ...] = TOKEN,
        compression: grpc.Compression | None = None,
    ) -> bytes:
        call = self._channel.unary_unary(method)
        response: bytes = await call(body, metadata=metadata, compression=compression, timeout=10)
        return response


@pytest.fixture
async def calls(broker_url: str) -> AsyncIterator[Calls]:
    port = free_port()
    async with (
        running(create_app(settings(broker_url, port), grpc_host="127.0.0.1")),
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        yield Calls(channel)


async def test_each_signal_is_received_and_published_to_its_queue(calls: Calls, broker_url: str) -> None:
    spans = build_request([SpanSpec(), SpanSpec(start_ns=0, duration_ns=0)])
    traced = ExportTraceServiceResponse.FromString(await calls.export(TRACES, spans.SerializeToString()))
    assert traced.partial_success.rejected_spans == 1

    points = metrics_request([gauge("queue.depth", [number_point(3, 1), number_point(4.0, time.time_ns())])])
    measured = ExportMetricsServiceResponse.FromString(
        await calls.export(METRICS, points.SerializeToString(), compression=grpc.Compression.Gzip)
    )
    assert (measured.partial_success.rejected_data_points, measured.partial_success.error_message) == (
        1,
        "1 refused: older than the retention period",
    )

    logged = ExportLogsServiceResponse.FromString(
        await calls.export(LOGS, logs_request([log_record("disk full")]).SerializeToString())
    )
    assert not logged.HasField("partial_success")

    assert await depth(broker_url, SPAN_STORE_QUEUE.name) == 1
    [point_batch] = [
        msgspec.json.decode(m.body, type=StoredPointBatch)
        for m in await drain(broker_url, METRIC_STORE_QUEUE.name)
    ]
    assert [p.value for p in point_batch.points] == [4.0]
    [log_batch] = [
        msgspec.json.decode(m.body, type=StoredLogBatch)
        for m in await drain(broker_url, LOG_STORE_QUEUE.name)
    ]
    assert [r.body for r in log_batch.records] == ["disk full"]


@pytest.mark.parametrize(
    ("metadata", "body", "code"),
    [
        ((), logs_request([log_record("x")]).SerializeToString(), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer wrong"),), b"", grpc.StatusCode.UNAUTHENTICATED),
        (TOKEN, b"\xff\xff\xff", grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
@pytest.mark.parametrize("method", [TRACES, METRICS, LOGS])
async def test_refusals_have_the_status_the_specification_gives_and_publish_nothing(
    calls: Calls,
    broker_url: str,
    method: str,
    metadata: tuple[tuple[str, str], ...],
    body: bytes,
    code: grpc.StatusCode,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await calls.export(method, body, metadata=metadata)
    assert refused.value.code() is code
    for queue in (SPAN_STORE_QUEUE, METRIC_STORE_QUEUE, LOG_STORE_QUEUE):
        assert await depth(broker_url, queue.name) == 0


async def test_a_message_over_the_size_limit_is_resource_exhausted(broker_url: str) -> None:
    port = free_port()
    app = create_app(settings(broker_url, port, max_body_bytes=2048), grpc_host="127.0.0.1")
    big = logs_request([log_record("x" * 4096)]).SerializeToString()
    async with running(app), grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await Calls(channel).export(LOGS, big)
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_an_unreachable_broker_is_unavailable_with_the_delay_to_retry_after(broker_url: str) -> None:
    port = free_port()
    unreachable = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    app = create_app(settings(unreachable, port), grpc_host="127.0.0.1")
    async with running(app, wait_ready=False), grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await Calls(channel).export(LOGS, logs_request([log_record("x")]).SerializeToString())
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    trailers = dict(refused.value.trailing_metadata() or ())
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    retry = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry)
    assert retry.retry_delay.seconds > 0
    # Where the OpenTelemetry Python exporter looks for it.
    assert error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"]) == retry


async def test_a_client_over_its_rate_is_resource_exhausted_with_the_delay(
    broker_url: str, redis_url: str, redis_prefix: str
) -> None:
    port = free_port()
    limited = settings(
        broker_url,
        port,
        redis_url=redis_url,
        redis_key_prefix=redis_prefix,
        ingest_rate_limit_per_s=0.01,
        ingest_rate_limit_burst=1,
    )
    body = logs_request([log_record("x")]).SerializeToString()
    async with (
        running(create_app(limited, grpc_host="127.0.0.1")),
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        await Calls(channel).export(LOGS, body)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await Calls(channel).export(LOGS, body)
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    retry = error_details_pb2.RetryInfo.FromString(
        dict(refused.value.trailing_metadata() or ())["google.rpc.retryinfo-bin"]
    )
    assert 90 <= retry.retry_delay.seconds <= 100


async def test_the_port_taken_fails_the_start_with_a_clear_error(broker_url: str) -> None:
    port = free_port()
    async with running(create_app(settings(broker_url, port), grpc_host="127.0.0.1")):
        second = create_app(settings(broker_url, port), grpc_host="127.0.0.1")
        with pytest.raises(RuntimeError, match=f"cannot listen on 127.0.0.1:{port}"):
            async with running(second):
                pass
