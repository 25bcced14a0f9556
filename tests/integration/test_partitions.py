from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from aiops_core.store import Backend
from aiops_core.store.partitions import (
    METRIC_POINTS,
    SPANS,
    drop_partitions_before,
    ensure_partitions,
    existing_partitions,
)
from aiops_detector.writer.maintenance import RetentionPolicy, TelemetryMaintenanceJob
from aiops_detector.writer.repository import SpanRepository
from tests.support.spans import batch_at, stored_batch


async def test_partitions_are_created_once_per_day(pool: asyncpg.Pool) -> None:
    days = {date(2026, 1, 1), date(2026, 1, 2)}
    async with pool.acquire() as conn:
        assert sorted(await ensure_partitions(conn, SPANS, days)) == sorted(days)
        assert await ensure_partitions(conn, SPANS, days) == []
        assert days <= await existing_partitions(conn, SPANS)


async def test_rows_land_in_their_day_and_old_days_are_dropped(pool: asyncpg.Pool) -> None:
    repository = SpanRepository(pool, partitioned=True)
    old, recent = datetime(2026, 1, 1, 23, 59, tzinfo=UTC), datetime(2026, 1, 3, 0, 1, tzinfo=UTC)
    assert await repository.write_batch(stored_batch(batch_at(old)))
    assert await repository.write_batch(stored_batch(batch_at(recent)))
    assert await pool.fetchval("SELECT count(*) FROM spans_p20260101") == 3
    assert await pool.fetchval("SELECT count(*) FROM spans_p20260103") == 3
    async with pool.acquire() as conn:
        assert await drop_partitions_before(conn, SPANS, date(2026, 1, 2)) == [date(2026, 1, 1)]
    assert await pool.fetchval("SELECT count(*) FROM spans") == 3


async def test_a_dropped_partition_is_recreated_after_the_writer_forgets_it(pool: asyncpg.Pool) -> None:
    repository = SpanRepository(pool, partitioned=True)
    moment = datetime(2026, 2, 1, 12, tzinfo=UTC)
    await repository.write_batch(stored_batch(batch_at(moment)))
    async with pool.acquire() as conn:
        await drop_partitions_before(conn, SPANS, date(2026, 2, 2))
    with pytest.raises(asyncpg.CheckViolationError):
        await repository.write_batch(stored_batch(batch_at(moment)))
    repository.forget_partitions()
    assert await repository.write_batch(stored_batch(batch_at(moment)))


async def test_maintenance_keeps_days_ahead_and_drops_expired_ones(pool: asyncpg.Pool) -> None:
    repository = SpanRepository(pool, partitioned=True)
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    await repository.write_batch(stored_batch(batch_at(now - timedelta(days=9))))
    await pool.execute("UPDATE ingested_batches SET committed_at = $1", now - timedelta(days=9))
    await repository.write_batch(stored_batch(batch_at(now - timedelta(days=3))))
    job = TelemetryMaintenanceJob(
        pool,
        [repository],
        Backend.POSTGRES,
        RetentionPolicy(
            retention={SPANS: timedelta(days=7), METRIC_POINTS: timedelta(days=7)},
            partitions_ahead_days=2,
            compress_after=timedelta(days=1),
        ),
        interval_s=3600,
    )
    await job.run_once(now)
    async with pool.acquire() as conn:
        days = await existing_partitions(conn, SPANS)
    assert days == {date(2026, 3, d) for d in (7, 9, 10, 11, 12)}
    assert await pool.fetchval("SELECT count(*) FROM spans") == 3
    assert await pool.fetchval("SELECT count(*) FROM ingested_batches") == 1
