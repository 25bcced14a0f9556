"""The detector app as `aiops serve detector` runs it, in-process, on the real servers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg

from aiops_core.bus import RabbitBus
from aiops_core.bus.topology import SPAN_BATCH_ROUTING_KEY, SPAN_STORE_QUEUE, TELEMETRY_EXCHANGE
from aiops_detector.app import create_app
from aiops_detector.settings import DetectorSettings
from tests.support.apps import running
from tests.support.bus import depth
from tests.support.spans import batch_at, batch_message
from tests.support.waiting import eventually


@asynccontextmanager
async def one_batch_published(broker_url: str) -> AsyncIterator[None]:
    """Publishes a batch of 10 spans, as ingest does, on entry."""
    publisher = RabbitBus(broker_url)
    await publisher.start()
    await publisher.wait_connected(10)
    try:
        batch = batch_at(datetime.now(UTC), n=10)
        await publisher.publish(
            TELEMETRY_EXCHANGE,
            SPAN_BATCH_ROUTING_KEY,
            batch_message(batch),
            message_id=str(batch.batch_id),
        )
        yield
    finally:
        await publisher.close()


async def stored_spans(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM spans"))
    finally:
        await conn.close()


async def test_detector_migrates_writes_and_reports_its_health(
    database_url: str, broker_url: str, redis_url: str, redis_prefix: str
) -> None:
    settings = DetectorSettings(
        database_url=database_url, broker_url=broker_url, redis_url=redis_url, redis_key_prefix=redis_prefix
    )
    async with running(create_app(settings)) as client:
        ready = (await client.get("/readyz")).json()
        assert ready == {"status": "ok", "checks": {"broker": "ok", "store": "ok", "cache": "ok"}}
        async with one_batch_published(broker_url):
            await eventually(
                lambda: client.get("/metrics"),
                lambda r: 'aiops_writer_rows_total{table="spans"} 10.0' in r.text,
                what="rows counted",
            )
            await eventually(
                lambda: client.get("/metrics"),
                lambda r: 'aiops_queue_messages{queue="telemetry.store.dlq"} 0.0' in r.text,
                what="queue depth sampled",
            )
    assert await stored_spans(database_url) == 10
    conn = await asyncpg.connect(database_url)
    try:
        # partitions exist ahead of time
        assert (
            await conn.fetchval("SELECT count(*) FROM pg_inherits WHERE inhparent = 'spans'::regclass") >= 4
        )
    finally:
        await conn.close()


async def test_a_detector_without_the_writer_detects_and_leaves_the_spans_to_a_writer(
    database_url: str, broker_url: str, redis_url: str, redis_prefix: str
) -> None:
    """`AIOPS_SPAN_WRITER_ENABLED=false`: the windows take every batch, the store queue keeps
    them for a writer elsewhere, and nothing is written here."""
    settings = DetectorSettings(
        database_url=database_url,
        broker_url=broker_url,
        redis_url=redis_url,
        redis_key_prefix=redis_prefix,
        span_writer_enabled=False,
    )
    async with running(create_app(settings)) as client, one_batch_published(broker_url):
        await eventually(
            lambda: client.get("/metrics"),
            lambda r: 'aiops_detector_window_batches_total{outcome="merged"} 1.0' in r.text,
            what="the batch merged into the windows",
        )
        assert await depth(broker_url, SPAN_STORE_QUEUE.name) == 1
        assert "aiops_writer_rows_total{" not in (await client.get("/metrics")).text
    assert await stored_spans(database_url) == 0
