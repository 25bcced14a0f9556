"""The whole path as separate processes on the real RabbitMQ and PostgreSQL: the OpenTelemetry SDK
exports through ingest, the writer stores, and every span the exporter reported as sent is stored
exactly once, also when the writer is killed mid-stream."""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg

from tests.e2e.conftest import kill_the_writer_while_it_writes, start_platform, stored_count
from tests.support.otel import TracedClient
from tests.support.processes import AiopsProcess, ServiceProcess
from tests.support.waiting import eventually


async def stored_span_ids(database_url: str) -> Counter[str]:
    conn = await asyncpg.connect(database_url)
    try:
        return Counter(
            row["span_id"] for row in await conn.fetch("SELECT encode(span_id, 'hex') AS span_id FROM spans")
        )
    finally:
        await conn.close()


async def assert_stored_exactly_once(database_url: str, sent: list[str]) -> None:
    assert len(sent) == len(set(sent)), "the SDK reported a span twice"
    await eventually(
        lambda: stored_count(database_url),
        lambda n: n >= len(sent),
        timeout_s=120,
        interval_s=0.5,
        what=f"{len(sent)} spans stored",
    )
    stored = await stored_span_ids(database_url)
    duplicates = {span_id: n for span_id, n in stored.items() if n > 1}
    assert duplicates == {}, f"{len(duplicates)} spans stored more than once"
    missing = set(sent) - set(stored)
    assert missing == set(), f"{len(missing)} spans reported as sent were not stored"
    assert set(stored) == set(sent), "spans stored that the SDK did not report as sent"


async def test_every_span_the_sdk_sent_is_stored_exactly_once(
    processes: list[AiopsProcess], platform_env: dict[str, str], database_url: str
) -> None:
    ingest, _ = await start_platform(processes, platform_env)
    client = TracedClient(ingest.url)
    await asyncio.to_thread(client.emit, 3000)
    await asyncio.to_thread(client.close)
    assert client.exporter.failed == 0
    assert len(client.exporter.sent) == 6000
    await assert_stored_exactly_once(database_url, client.exporter.sent)


async def test_killing_the_writer_mid_stream_loses_and_doubles_nothing(
    processes: list[AiopsProcess], platform_env: dict[str, str], database_url: str
) -> None:
    ingest, detector = await start_platform(processes, platform_env)
    client = TracedClient(ingest.url)
    sending = asyncio.create_task(asyncio.to_thread(client.emit, 40_000))

    await kill_the_writer_while_it_writes(
        processes, platform_env, detector, lambda: stored_count(database_url), (5_000, 25_000)
    )

    await sending
    await asyncio.to_thread(client.close)
    assert client.exporter.failed == 0
    assert len(client.exporter.sent) == 80_000
    await assert_stored_exactly_once(database_url, client.exporter.sent)


async def test_sigterm_lets_the_writer_finish_what_it_holds(
    processes: list[AiopsProcess], platform_env: dict[str, str], database_url: str
) -> None:
    ingest, detector = await start_platform(processes, platform_env)
    client = TracedClient(ingest.url)
    await asyncio.to_thread(client.emit, 10_000)
    await asyncio.to_thread(client.close)
    await eventually(lambda: stored_count(database_url), lambda n: n > 0, what="writing under way")
    assert detector.terminate() == 0
    log = detector.log_path.read_text()
    assert "Application shutdown complete" in log
    assert '"level": "ERROR"' not in log
    assert "still in flight" not in log
    processes.append(ServiceProcess("detector", platform_env, log_name="detector-after-sigterm").start())
    await assert_stored_exactly_once(database_url, client.exporter.sent)
