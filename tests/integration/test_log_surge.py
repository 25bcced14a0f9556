"""The log surge watch on the real PostgreSQL: a service whose error logs jump far beyond its
usual trickle opens a `log_surge` anomaly, which clears once they are back; the trickle itself,
and the surge's own minutes afterwards, do not."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg

from aiops_core.models import AnomalyKind
from aiops_detector.detection.log_surge_watch import OPERATION, LogSurgeWatch
from aiops_detector.detection.repository import DetectionRepository
from tests.support.otlp import log_record, logs_request
from tests.support.stored_telemetry import store_logs

NOW = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)


def ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


async def errors(pool: asyncpg.Pool, at: datetime, count: int, service: str = "payment") -> None:
    records = [log_record(f"card {n} declined", time_ns=ns(at) + n * 1_000_000) for n in range(count)]
    await store_logs(pool, logs_request(records, service=service))


async def surges(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            "SELECT service, operation, observed, baseline, cleared_at FROM anomalies WHERE kind = $1",
            AnomalyKind.LOG_SURGE.value,
        )
    )


async def test_a_surge_of_error_logs_opens_an_anomaly_and_clears_when_it_ends(pool: asyncpg.Pool) -> None:
    watch = LogSurgeWatch(DetectionRepository(pool), clear_after=timedelta(seconds=10))
    # An hour of one or two errors a minute, and an info line or two, which never count.
    for minute in range(60, 0, -1):
        await errors(pool, NOW - timedelta(minutes=minute, seconds=-20), 1 + minute % 2)
    await store_logs(pool, logs_request([log_record("started", severity=9, time_ns=ns(NOW) - 5)] * 50))
    await watch.run_once(NOW)
    assert await surges(pool) == []

    await errors(pool, NOW + timedelta(seconds=5), 120)
    await watch.run_once(NOW + timedelta(seconds=30))
    [surge] = await surges(pool)
    assert (surge["service"], surge["operation"], surge["cleared_at"]) == ("payment", OPERATION, None)
    assert json.loads(surge["observed"])["errors"] == 120
    assert json.loads(surge["baseline"])["usual_per_min"] in (1, 1.5, 2)

    # Two quiet minutes later it has cleared; what it logged does not teach the usual either.
    await watch.run_once(NOW + timedelta(seconds=100))
    await watch.run_once(NOW + timedelta(seconds=115))
    [surge] = await surges(pool)
    assert surge["cleared_at"] is not None
    await errors(pool, NOW + timedelta(seconds=130), 120)
    await watch.run_once(NOW + timedelta(seconds=150))
    assert len(await surges(pool)) == 2


async def test_a_service_is_judged_only_once_it_has_logged_for_ten_minutes(pool: asyncpg.Pool) -> None:
    watch = LogSurgeWatch(DetectionRepository(pool), clear_after=timedelta(seconds=10))
    # A new service, erring a dozen times a minute from its start five minutes ago: its usual,
    # not a surge, however quiet the hour before it was.
    for minute in range(5, 0, -1):
        await errors(pool, NOW - timedelta(minutes=minute), 12, service="checkout")
    await errors(pool, NOW + timedelta(seconds=5), 12, service="checkout")
    await watch.run_once(NOW + timedelta(seconds=30))
    assert await surges(pool) == []
    # Ten minutes on, at the same pace, still its usual.
    for minute in range(0, 10):
        await errors(pool, NOW + timedelta(minutes=minute, seconds=40), 12, service="checkout")
    await watch.run_once(NOW + timedelta(minutes=10, seconds=30))
    assert await surges(pool) == []
