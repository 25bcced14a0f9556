"""The metric point and log record writers on the real RabbitMQ and PostgreSQL: each batch stored
once, cumulative points turned into deltas across batches, the cardinality cap, dead letters."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from uuid import uuid4

import asyncpg
import msgspec
import pytest
from prometheus_client import CollectorRegistry

from aiops_core.bus import RabbitBus
from aiops_core.bus.topology import (
    DEAD_LETTER_REASON_HEADER,
    LOG_BATCH_ROUTING_KEY,
    LOG_STORE_QUEUE,
    METRIC_BATCH_ROUTING_KEY,
    TELEMETRY_EXCHANGE,
)
from aiops_core.models import encode_batch
from aiops_detector.writer.batch import StoredPointBatch
from aiops_detector.writer.consumer import LogWriterConsumer, MetricWriterConsumer
from aiops_detector.writer.log_repository import LogRecordRepository
from aiops_detector.writer.metric_repository import MetricPointRepository
from aiops_detector.writer.metrics import WriterMetrics
from aiops_ingest.normalise_logs import LogNormaliser
from aiops_ingest.normalise_metrics import MetricNormaliser
from aiops_ingest.normalised import Limits
from tests.support.bus import drain
from tests.support.otlp import (
    counter,
    gauge,
    histogram,
    log_record,
    logs_request,
    metrics_request,
    number_point,
)
from tests.support.waiting import eventually

S = 1_000_000_000
START = (time.time_ns() // S - 600) * S
points_of = MetricNormaliser(Limits(), max_series_attributes=8).from_otlp
records_of = LogNormaliser(Limits(), max_body_length=8192).from_otlp


def point_batch(metrics: list[Any], **resource: Any) -> StoredPointBatch:
    """A batch as the writer decodes it, of the points ingest makes of `metrics`."""
    body = encode_batch(uuid4(), time.time_ns(), points=points_of(metrics_request(metrics, **resource)).items)
    return msgspec.json.decode(body, type=StoredPointBatch)


async def point_rows(pool: asyncpg.Pool, name: str) -> list[tuple[Any, ...]]:
    rows = await pool.fetch(
        """
        SELECT extract(epoch FROM p.start_time)::bigint AS start, extract(epoch FROM p.time)::bigint AS at,
               p.value, p.count, p.sum, p.bucket_counts
        FROM metric_points p JOIN metric_series s USING (series_id)
        WHERE s.name = $1 ORDER BY p.time
        """,
        name,
    )
    return [tuple(row.values()) for row in rows]


def at(seconds: int) -> int:
    return START + seconds * S


async def publish(bus: RabbitBus, routing_key: str, body: bytes) -> None:
    batch_id = msgspec.json.decode(body)["batch_id"]
    await bus.publish(TELEMETRY_EXCHANGE, routing_key, body, message_id=batch_id)


def sessions(user: str) -> bytes:
    request = metrics_request([gauge("sessions", [number_point(1.0, at(10), attributes={"user": user})])])
    return encode_batch(uuid4(), 1, points=points_of(request).items)


def batches(registry: CollectorRegistry, table: str, outcome: str) -> float:
    return _sample(registry, "aiops_writer_batches_total", table=table, outcome=outcome)


async def test_cumulative_counters_are_stored_as_deltas_across_batches(pool: asyncpg.Pool) -> None:
    repository = MetricPointRepository(pool, partitioned=True, series_limit=100)

    def reading(seconds: int, value: int, start: int = 0) -> Any:
        return counter("requests", [number_point(value, at(seconds), start_ns=at(start))])

    await repository.write_batch(point_batch([reading(10, 40)]))
    await repository.write_batch(point_batch([reading(20, 55), reading(30, 70)]))
    # The process restarted at 35 s: its counter starts again.
    restarted = await repository.write_batch(point_batch([reading(40, 4, start=35), reading(20, 55)]))
    assert restarted is not None
    assert restarted.dropped == {"superseded": 1}
    base = START // S
    assert await point_rows(pool, "requests") == [
        (base, base + 10, 40.0, None, None, None),
        (base + 10, base + 20, 15.0, None, None, None),
        (base + 20, base + 30, 15.0, None, None, None),
        (base + 35, base + 40, 4.0, None, None, None),
    ]
    series = await pool.fetchrow("SELECT kind, monotonic, temporality, last_seen FROM metric_series")
    assert (series["kind"], series["monotonic"], series["temporality"]) == ("sum", True, "delta")
    assert int(series["last_seen"].timestamp()) == base + 40


async def test_a_batch_stored_twice_changes_nothing(pool: asyncpg.Pool) -> None:
    repository = MetricPointRepository(pool, partitioned=True, series_limit=100)
    first = point_batch([counter("c", [number_point(5, at(10), start_ns=at(0))])])
    second = point_batch([counter("c", [number_point(9, at(20), start_ns=at(0))])])
    assert await repository.write_batch(first) is not None
    assert await repository.write_batch(second) is not None
    assert await repository.write_batch(first) is None
    assert await repository.write_batch(second) is None
    assert [row[2] for row in await point_rows(pool, "c")] == [5.0, 4.0]


async def test_gauges_levels_deltas_and_histograms_are_stored_as_they_mean(pool: asyncpg.Pool) -> None:
    repository = MetricPointRepository(pool, partitioned=True, series_limit=100)
    await repository.write_batch(
        point_batch(
            [
                gauge("memory", [number_point(512.0, at(10))]),
                counter("in_use", [number_point(7, at(10), start_ns=at(0))], monotonic=False),
                counter("sent", [number_point(3, at(10), start_ns=at(5))], cumulative=False),
                histogram("latency", at(10), at(0), [1, 2, 3], [0.1, 0.5], 1.5),
            ]
        )
    )
    await repository.write_batch(
        point_batch(
            [
                gauge("memory", [number_point(640.0, at(20))]),
                counter("in_use", [number_point(5, at(20), start_ns=at(0))], monotonic=False),
                counter("sent", [number_point(2, at(20), start_ns=at(10))], cumulative=False),
                histogram("latency", at(20), at(0), [2, 4, 3], [0.1, 0.5], 2.5),
            ]
        )
    )
    assert [row[2] for row in await point_rows(pool, "memory")] == [512.0, 640.0]
    assert [row[2] for row in await point_rows(pool, "in_use")] == [7.0, 5.0]  # a level, as sent
    assert [row[2] for row in await point_rows(pool, "sent")] == [3.0, 2.0]
    assert [row[3:] for row in await point_rows(pool, "latency")] == [
        (6.0, 1.5, [1.0, 2.0, 3.0]),
        (3.0, 1.0, [1.0, 2.0, 0.0]),
    ]
    temporalities = dict(await pool.fetch("SELECT name, temporality FROM metric_series"))
    assert temporalities == {"memory": None, "in_use": "cumulative", "sent": "delta", "latency": "delta"}


async def test_the_series_of_one_metric_are_capped_and_what_is_dropped_is_counted(
    bus: RabbitBus, pool: asyncpg.Pool
) -> None:
    registry = CollectorRegistry()
    repository = MetricPointRepository(pool, partitioned=True, series_limit=2)
    consumer = MetricWriterConsumer(bus, repository, WriterMetrics(registry), prefetch=4)
    await consumer.start()
    try:
        for user in ("ann", "bob", "cid", "dan"):
            await publish(bus, METRIC_BATCH_ROUTING_KEY, sessions(user))
        # Another metric of the same service still has room.
        other = points_of(metrics_request([gauge("threads", [number_point(8.0, at(10))])])).items
        await publish(bus, METRIC_BATCH_ROUTING_KEY, encode_batch(uuid4(), 1, points=other))
        await eventually(
            lambda: batches(registry, "metric_points", "stored"),
            lambda n: n == 5,
            what="five batches handled",
        )
    finally:
        await consumer.stop()
    assert await pool.fetchval("SELECT count(*) FROM metric_series WHERE name = 'sessions'") == 2
    assert await pool.fetchval("SELECT count(*) FROM metric_series WHERE name = 'threads'") == 1
    assert _sample(registry, "aiops_writer_metric_points_dropped_total", reason="over_cardinality_cap") == 2
    assert _sample(registry, "aiops_writer_rows_total", table="metric_points") == 3


async def test_log_records_are_stored_once_with_their_trace_context(
    bus: RabbitBus, pool: asyncpg.Pool
) -> None:
    registry = CollectorRegistry()
    consumer = LogWriterConsumer(
        bus, LogRecordRepository(pool, partitioned=True), WriterMetrics(registry), prefetch=4
    )
    trace_id = bytes(range(1, 17))
    records = records_of(
        logs_request(
            [
                log_record("card declined", trace_id=trace_id, span_id=bytes(range(1, 9))),
                log_record("retrying"),
            ],
            service="payment",
        )
    ).items
    body = encode_batch(uuid4(), time.time_ns(), records=records)
    await consumer.start()
    try:
        for _ in range(2):
            await publish(bus, LOG_BATCH_ROUTING_KEY, body)
        await eventually(
            lambda: batches(registry, "log_records", "duplicate"),
            lambda n: n == 1,
            what="the second delivery skipped",
        )
    finally:
        await consumer.stop()
    rows = await pool.fetch("SELECT service, body, trace_id, severity_number FROM log_records ORDER BY body")
    assert [(r["service"], r["body"], r["trace_id"], r["severity_number"]) for r in rows] == [
        ("payment", "card declined", trace_id, 17),
        ("payment", "retrying", None, 17),
    ]


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        ([{"service": "s", "time_unix_nano": 1, "body": "x", "trace_id": "z" * 32}], "non-hexadecimal"),
        ([{"service": "s", "time_unix_nano": 1, "body": "x", "attributes": [1]}], "not a JSON object"),
        ([], "records"),
    ],
)
async def test_a_log_batch_that_cannot_be_stored_is_dead_lettered_with_the_reason(
    bus: RabbitBus, pool: asyncpg.Pool, broker_url: str, records: Sequence[dict[str, Any]], reason: str
) -> None:
    registry = CollectorRegistry()
    consumer = LogWriterConsumer(
        bus, LogRecordRepository(pool, partitioned=True), WriterMetrics(registry), prefetch=4
    )
    await consumer.start()
    try:
        body = encode_batch(uuid4(), 1, records=list(records))
        await publish(bus, LOG_BATCH_ROUTING_KEY, body)
        await eventually(
            lambda: batches(registry, "log_records", "dead_lettered"),
            lambda n: n == 1,
            what="the batch dead-lettered",
        )
    finally:
        await consumer.stop()
    [dead] = await drain(broker_url, LOG_STORE_QUEUE.dead_letter_queue)
    assert "not a log record batch" in str(dead.headers[DEAD_LETTER_REASON_HEADER])
    assert reason in str(dead.headers[DEAD_LETTER_REASON_HEADER])
    assert await pool.fetchval("SELECT count(*) FROM log_records") == 0


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0
