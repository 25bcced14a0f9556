"""Metrics and logs end to end, as separate processes on the real RabbitMQ and PostgreSQL: the
OpenTelemetry SDK's own exporters, over OTLP/gRPC and OTLP/HTTP, through ingest to the writers.
Every log record the exporter reported as sent is stored exactly once, also when the writer is
killed mid-stream; cumulative metrics are stored as deltas that add up to what was counted."""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg
from grpc import Compression
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from tests.e2e.conftest import kill_the_writer_while_it_writes, start_platform
from tests.support.otel import LoggingClient
from tests.support.processes import AiopsProcess, free_port
from tests.support.waiting import eventually

TOKEN = "e2e-token"


async def fetch(database_url: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


async def stored_log_count(database_url: str) -> int:
    return int((await fetch(database_url, "SELECT count(*) AS n FROM log_records"))[0]["n"])


async def assert_logs_stored_exactly_once(database_url: str, sent: list[str]) -> None:
    assert len(sent) == len(set(sent)), "the SDK reported a record twice"
    await eventually(
        lambda: stored_log_count(database_url),
        lambda n: n >= len(sent),
        timeout_s=120,
        interval_s=0.5,
        what=f"{len(sent)} log records stored",
    )
    stored = Counter(row["body"] for row in await fetch(database_url, "SELECT body FROM log_records"))
    assert {body: n for body, n in stored.items() if n > 1} == {}, "log records stored more than once"
    assert set(stored) == set(sent), "stored records differ from those the SDK reported as sent"


async def test_every_log_record_sent_over_grpc_is_stored_once_across_writer_kills(
    processes: list[AiopsProcess], platform_env: dict[str, str], database_url: str
) -> None:
    grpc_port = free_port()
    env = platform_env | {"AIOPS_INGEST_GRPC_PORT": str(grpc_port), "AIOPS_INGEST_TOKENS": TOKEN}
    _, detector = await start_platform(processes, env)
    exporter = GrpcLogExporter(
        endpoint=f"127.0.0.1:{grpc_port}",
        insecure=True,
        headers={"authorization": f"Bearer {TOKEN}"},
        compression=Compression.Gzip,
    )
    client = LoggingClient(exporter)
    sending = asyncio.create_task(asyncio.to_thread(client.emit, 40_000))

    await kill_the_writer_while_it_writes(
        processes, env, detector, lambda: stored_log_count(database_url), (5_000, 25_000)
    )

    await sending
    await asyncio.to_thread(client.close)
    assert client.exporter.failed == 0
    assert len(client.exporter.sent) == 40_000
    await assert_logs_stored_exactly_once(database_url, client.exporter.sent)
    rows = await fetch(database_url, "SELECT DISTINCT service, severity_number FROM log_records")
    assert [(r["service"], r["severity_number"]) for r in rows] == [("e2e-payment", 17)]


async def test_logs_over_http_are_stored_once(
    processes: list[AiopsProcess], platform_env: dict[str, str], database_url: str
) -> None:
    ingest, _ = await start_platform(processes, platform_env)
    client = LoggingClient(HttpLogExporter(endpoint=f"{ingest.url}/v1/logs"))
    await asyncio.to_thread(client.emit, 2_000)
    await asyncio.to_thread(client.close)
    assert (client.exporter.failed, len(client.exporter.sent)) == (0, 2_000)
    await assert_logs_stored_exactly_once(database_url, client.exporter.sent)


def _measure(exporter: MetricExporter, rounds: int) -> tuple[int, int]:
    """Counts requests and observes their durations through the SDK, exporting (cumulative, its
    default) after each round; returns what was counted and observed in all."""
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create({"service.name": "e2e-shop"}), metric_readers=[reader])
    meter = provider.get_meter("e2e")
    requests = meter.create_counter("e2e.requests")
    durations = meter.create_histogram("e2e.duration", unit="ms")
    in_use = [0]

    def pool(_: CallbackOptions) -> list[Observation]:
        return [Observation(in_use[0], {"pool": "main"})]

    meter.create_observable_gauge("e2e.pool.in_use", callbacks=[pool])
    counted = observed = 0
    for round_ in range(1, rounds + 1):
        for route in ("/pay", "/cart"):
            requests.add(round_ * 10, {"route": route})
            counted += round_ * 10
        for ms in range(round_ * 3):
            durations.record(float(ms))
            observed += 1
        in_use[0] = round_
        assert provider.force_flush(30_000)
    provider.shutdown()
    return counted, observed


async def test_cumulative_metrics_sent_over_http_and_grpc_are_stored_as_deltas(
    processes: list[AiopsProcess], platform_env: dict[str, str], database_url: str
) -> None:
    grpc_port = free_port()
    env = platform_env | {"AIOPS_INGEST_GRPC_PORT": str(grpc_port)}
    ingest, _ = await start_platform(processes, env)
    over_http = await asyncio.to_thread(_measure, HttpMetricExporter(endpoint=f"{ingest.url}/v1/metrics"), 4)
    grpc_exporter = GrpcMetricExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True)
    over_grpc = await asyncio.to_thread(_measure, grpc_exporter, 3)
    counted = over_http[0] + over_grpc[0]
    observed = over_http[1] + over_grpc[1]

    async def totals() -> dict[str, float]:
        rows = await fetch(
            database_url,
            """
            SELECT s.name, sum(coalesce(p.value, p.count)) AS total FROM metric_points p
            JOIN metric_series s USING (series_id) WHERE s.kind <> 'gauge' GROUP BY s.name
            """,
        )
        return {row["name"]: row["total"] for row in rows}

    await eventually(
        totals,
        lambda t: t == {"e2e.requests": counted, "e2e.duration": observed},
        timeout_s=60,
        what="every count stored once, as deltas",
    )
    series = await fetch(
        database_url, "SELECT name, kind, temporality, attributes FROM metric_series ORDER BY name"
    )
    assert [(s["name"], s["kind"], s["temporality"]) for s in series] == [
        ("e2e.duration", "histogram", "delta"),
        ("e2e.pool.in_use", "gauge", None),
        ("e2e.requests", "sum", "delta"),
        ("e2e.requests", "sum", "delta"),
    ]
    # The gauge is stored as it was read, at each export (and shutdown exports once more).
    gauge = await fetch(
        database_url,
        "SELECT p.value FROM metric_points p JOIN metric_series s USING (series_id) "
        "WHERE s.name = 'e2e.pool.in_use' ORDER BY p.time",
    )
    assert [row["value"] for row in gauge] == [1.0, 2.0, 3.0, 4.0, 4.0, 1.0, 2.0, 3.0, 3.0]
