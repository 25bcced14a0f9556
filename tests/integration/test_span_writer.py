"""The span writer on the real RabbitMQ and PostgreSQL: exactly once, dead-lettering, retries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from urllib.parse import urlsplit

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from aiops_core.bus import BrokerUnavailableError, IncomingMessage, RabbitBus
from aiops_core.bus.base import RetryBackoff
from aiops_core.bus.topology import (
    DEAD_LETTER_REASON_HEADER,
    SPAN_BATCH_ROUTING_KEY,
    SPAN_STORE_QUEUE,
    TELEMETRY_EXCHANGE,
)
from aiops_core.models import SpanBatch, SpanKind
from aiops_core.peers import NodeKind
from aiops_core.settings import QueueType
from aiops_detector.writer.consumer import SpanWriterConsumer
from aiops_detector.writer.metrics import WriterMetrics
from aiops_detector.writer.repository import SpanRepository
from tests.support.bus import depth, drain
from tests.support.proxy import TcpProxy
from tests.support.spans import batch_at, batch_message, batch_of, request_span, stored_batch
from tests.support.waiting import eventually


def counter(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def publish(bus: RabbitBus, batch: SpanBatch) -> None:
    await bus.publish(
        TELEMETRY_EXCHANGE,
        SPAN_BATCH_ROUTING_KEY,
        batch_message(batch),
        message_id=str(batch.batch_id),
    )


async def stored(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM spans"))


class Writer:
    """A span writer with its own metrics registry, started and stopped by the test."""

    def __init__(self, bus: RabbitBus, pool: asyncpg.Pool) -> None:
        self.registry = CollectorRegistry()
        self.repository = SpanRepository(pool, partitioned=True)
        self.consumer = SpanWriterConsumer(bus, self.repository, WriterMetrics(self.registry), prefetch=4)

    def count(self, outcome: str) -> float:
        return counter(self.registry, "aiops_writer_batches_total", table="spans", outcome=outcome)


async def test_each_batch_is_stored_once_even_when_published_twice(
    bus: RabbitBus, pool: asyncpg.Pool
) -> None:
    writer = Writer(bus, pool)
    await writer.consumer.start()
    batch = batch_at(datetime.now(UTC), n=500)
    await publish(bus, batch)
    await publish(bus, batch)
    await eventually(lambda: writer.count("duplicate"), lambda v: v == 1, what="duplicate skipped")
    await writer.consumer.stop()
    assert await stored(pool) == 500
    assert writer.count("stored") == 1
    assert counter(writer.registry, "aiops_writer_rows_total", table="spans") == 500


async def test_a_batch_committed_but_not_acknowledged_is_skipped_on_redelivery(
    bus: RabbitBus, pool: asyncpg.Pool, broker_url: str
) -> None:
    writer = Writer(bus, pool)
    deliveries: list[bool] = []
    handle = writer.consumer.handle

    async def commit_then_crash_once(message: IncomingMessage) -> None:
        deliveries.append(message.redelivered)
        await handle(message)
        if len(deliveries) == 1:
            raise ConnectionResetError("lost the broker before the ack")

    subscription = await bus.consume(SPAN_STORE_QUEUE, commit_then_crash_once, prefetch=1)
    await publish(bus, batch_at(datetime.now(UTC), n=100))
    await eventually(lambda: len(deliveries), lambda n: n == 2, what="redelivery")
    await subscription.stop()
    assert deliveries == [False, True]
    assert await stored(pool) == 100
    assert writer.count("duplicate") == 1
    assert await depth(broker_url, SPAN_STORE_QUEUE.name) == 0


# The right length, but not the hex of the bytes it is stored as.
_SPAN = request_span(datetime.now(UTC))
BAD_HEX_TRACE_ID = batch_message(batch_of([_SPAN])).replace(_SPAN.trace_id.encode(), b"z" * 32)
# Valid JSON, but a list (the object that followed becomes a field the writer does not read).
ATTRIBUTES_NOT_AN_OBJECT = batch_message(batch_of([_SPAN])).replace(
    b'"attributes":{', b'"attributes":["a","list"],"ignored":{', 1
)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json at all", "not a span batch"),
        (b'{"batch_id": "not-a-uuid", "created_at_unix_nano": 1, "spans": []}', "not a span batch: batch_id"),
        (BAD_HEX_TRACE_ID, "not a span batch: a span cannot be stored: non-hexadecimal"),
        (ATTRIBUTES_NOT_AN_OBJECT, "not a span batch: a span cannot be stored: attributes are not"),
    ],
)
async def test_a_batch_that_cannot_be_parsed_is_dead_lettered_with_the_reason(
    bus: RabbitBus, pool: asyncpg.Pool, broker_url: str, body: bytes, reason: str
) -> None:
    writer = Writer(bus, pool)
    await writer.consumer.start()
    await bus.publish(TELEMETRY_EXCHANGE, SPAN_BATCH_ROUTING_KEY, body, message_id="poison-1")
    await eventually(lambda: depth(broker_url, SPAN_STORE_QUEUE.dead_letter_queue), lambda n: n == 1)
    await writer.consumer.stop()
    [dead] = await drain(broker_url, SPAN_STORE_QUEUE.dead_letter_queue)
    assert dead.body == body
    assert dead.message_id == "poison-1"
    assert reason in str(dead.headers[DEAD_LETTER_REASON_HEADER])
    assert await depth(broker_url, SPAN_STORE_QUEUE.name) == 0
    assert writer.count("dead_lettered") == 1


async def test_data_the_database_refuses_is_dead_lettered(
    bus: RabbitBus, pool: asyncpg.Pool, broker_url: str
) -> None:
    writer = Writer(bus, pool)
    await writer.consumer.start()
    batch = batch_at(datetime.now(UTC), n=2)
    poisoned = batch.model_copy(
        update={"spans": [batch.spans[0].model_copy(update={"error_message": "nul \x00 inside"})]}
    )
    await publish(bus, poisoned)
    await eventually(lambda: depth(broker_url, SPAN_STORE_QUEUE.dead_letter_queue), lambda n: n == 1)
    await writer.consumer.stop()
    [dead] = await drain(broker_url, SPAN_STORE_QUEUE.dead_letter_queue)
    assert "the database refused the batch's data" in str(dead.headers[DEAD_LETTER_REASON_HEADER])
    assert await stored(pool) == 0
    # nothing half-written: the batch id went with the rows
    assert await pool.fetchval("SELECT count(*) FROM ingested_batches") == 0


async def test_batches_wait_out_a_database_outage(
    bus: RabbitBus, broker_url: str, database_url: str, pool: asyncpg.Pool
) -> None:
    target = urlsplit(database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    proxied_url = database_url.replace(f":{target.port}/", f":{proxy.port}/")
    proxied_pool = await asyncpg.create_pool(proxied_url, min_size=1, max_size=2)
    writer = Writer(bus, proxied_pool)
    await writer.consumer.start()
    try:
        await proxy.cut()
        await publish(bus, batch_at(datetime.now(UTC), n=50))
        await eventually(lambda: writer.count("retried"), lambda n: n >= 1, what="a failed attempt")
        assert await stored(pool) == 0
        await proxy.restore()
        await eventually(lambda: stored(pool), lambda n: n == 50, what="the batch stored after the outage")
    finally:
        await writer.consumer.stop()
        await proxied_pool.close()
        await proxy.cut()
    assert await depth(broker_url, SPAN_STORE_QUEUE.name) == 0


async def test_stop_finishes_the_batches_in_flight(
    bus: RabbitBus, pool: asyncpg.Pool, broker_url: str
) -> None:
    writer = Writer(bus, pool)
    await writer.consumer.start()
    for _ in range(20):
        await publish(bus, batch_at(datetime.now(UTC), n=200))
    await eventually(lambda: stored(pool), lambda n: n > 0, what="writing to begin")
    await writer.consumer.stop()
    committed = await stored(pool)
    # whatever was not committed is back on the queue, none of it lost, none of it doubled (the
    # broker requeues what the closed channel held a moment after the close)
    assert committed % 200 == 0
    await eventually(
        lambda: depth(broker_url, SPAN_STORE_QUEUE.name),
        lambda remaining: committed // 200 + remaining == 20,
        timeout_s=10,
        what="every batch not committed back on the queue",
    )


async def test_stop_hands_back_a_batch_waiting_out_its_retry_at_once(
    bus: RabbitBus, broker_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    attempts = 0

    async def always_fails(message: IncomingMessage) -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("store away")

    subscription = await bus.consume(SPAN_STORE_QUEUE, always_fails, prefetch=1)
    # Backing off for ten minutes after each failure: a stop that waited the delay out would hold
    # the shutdown until its own deadline and say messages were left in flight.
    subscription._backoff = RetryBackoff(initial_s=600)
    await publish(bus, batch_at(datetime.now(UTC), n=5))
    await eventually(lambda: attempts, lambda n: n == 1, what="the first attempt")
    await subscription.stop()
    assert "still in flight" not in caplog.text
    await eventually(
        lambda: depth(broker_url, SPAN_STORE_QUEUE.name), lambda n: n == 1, what="the batch back on the queue"
    )


@pytest.mark.parametrize("queue_type", [QueueType.QUORUM, QueueType.CLASSIC])
async def test_queue_type_is_configurable(broker_url: str, queue_type: QueueType) -> None:
    bus = RabbitBus(broker_url, queue_type=queue_type)
    await bus.start()
    await bus.wait_connected(10)
    await bus.close()
    vhost = urlsplit(broker_url).path.lstrip("/") or "/"
    process = await asyncio.create_subprocess_exec(
        *("rabbitmqctl", "list_queues", "-p", vhost, "name", "type", "durable", "arguments"),
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), 60)
    listing = stdout.decode()
    [line] = [row for row in listing.splitlines() if row.startswith(f"{SPAN_STORE_QUEUE.name}\t")]
    assert f"\t{queue_type.value}\ttrue\t" in line
    assert "x-dead-letter-exchange" in line
    assert ("x-delivery-limit" in line) is (queue_type is QueueType.QUORUM)


async def test_a_queue_of_another_type_is_reported_not_retried_silently(broker_url: str) -> None:
    quorum = RabbitBus(broker_url, queue_type=QueueType.QUORUM)
    await quorum.start()
    await quorum.wait_connected(10)
    await quorum.close()
    classic = RabbitBus(broker_url, queue_type=QueueType.CLASSIC)
    await classic.start()

    async def readiness() -> str:
        try:
            await classic.ping()
        except BrokerUnavailableError as exc:
            return str(exc)
        return "ready"

    try:
        reason = await eventually(readiness, lambda r: r != "not connected yet", timeout_s=10)
        assert "queue declared with other arguments" in reason
        assert "PRECONDITION_FAILED" in reason
    finally:
        await classic.close()


async def test_the_peer_and_the_instance_are_stored_with_the_span(pool: asyncpg.Pool) -> None:
    moment = datetime.now(UTC)
    call = request_span(moment, service="inventory", operation="SELECT stock", kind=SpanKind.CLIENT)
    call = call.model_copy(
        update={"peer": "postgresql stock-db", "peer_kind": NodeKind.DATABASE, "instance": "i-2"}
    )
    repository = SpanRepository(pool, partitioned=True)
    assert await repository.write_batch(stored_batch(batch_of([call])))
    row = await pool.fetchrow(
        "SELECT kind, peer, peer_kind, instance FROM spans WHERE span_id = decode($1, 'hex')", call.span_id
    )
    assert row is not None
    assert dict(row) == {
        "kind": "client",
        "peer": "postgresql stock-db",
        "peer_kind": "database",
        "instance": "i-2",
    }
