"""The saturation watch on the real PostgreSQL: a pool leaking connections is forecast to run out
and opens an anomaly before it does, with the forecast; the anomaly clears once the leak stops;
a pool busy but steady, however near its size, opens none."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import asyncpg

from aiops_core.models import AnomalyKind
from aiops_detector.detection.repository import DetectionRepository
from aiops_detector.detection.saturation_watch import SaturationConfig, SaturationWatch
from tests.support.otlp import counter, metrics_request, number_point
from tests.support.stored_telemetry import store_metrics

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
POOL = {"db.client.connection.pool.name": "stock-db"}
OPERATION = "db.client.connection.count pool.name=stock-db on inventory-1"


def ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


async def pool_reading(pool: asyncpg.Pool, at: datetime, used: int, size: int = 10) -> None:
    """What the shop's inventory exports: connections by state, and the pool's size."""
    state = "db.client.connection.state"
    await store_metrics(
        pool,
        metrics_request(
            [
                counter(
                    "db.client.connection.count",
                    [
                        number_point(used, ns(at), start_ns=ns(T0), attributes=POOL | {state: "used"}),
                        number_point(size - used, ns(at), start_ns=ns(T0), attributes=POOL | {state: "idle"}),
                    ],
                    monotonic=False,
                ),
                counter(
                    "db.client.connection.max",
                    [number_point(size, ns(at), start_ns=ns(T0), attributes=POOL)],
                    monotonic=False,
                ),
            ],
            service="inventory",
            instance="inventory-1",
        ),
    )


async def saturation_anomalies(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            "SELECT service, operation, observed, started_at, cleared_at FROM anomalies WHERE kind = $1",
            AnomalyKind.SATURATION.value,
        )
    )


async def test_a_leaking_pool_opens_an_anomaly_before_it_runs_out_and_clears_once_mended(
    pool: asyncpg.Pool,
) -> None:
    watch = SaturationWatch(DetectionRepository(pool), SaturationConfig(clear_after=timedelta(seconds=10)))
    # Two quiet minutes at 1 or 2 in use, then one connection leaked every 6 seconds.
    for second in range(0, 120, 5):
        await pool_reading(pool, T0 + timedelta(seconds=second), used=1 + second % 2)
        await watch.run_once(T0 + timedelta(seconds=second))
    assert await saturation_anomalies(pool) == []
    leak_start = T0 + timedelta(seconds=120)
    opened_at: datetime | None = None
    for second in range(0, 60, 5):
        now = leak_start + timedelta(seconds=second)
        used = min(10, 2 + second // 6)
        await pool_reading(pool, now, used=used)
        await watch.run_once(now)
        if opened_at is None and await saturation_anomalies(pool):
            opened_at, used_then = now, used
    assert opened_at is not None, "no forecast while the pool ran out"
    assert used_then < 10, "opened only once the pool had run out"
    [anomaly] = await saturation_anomalies(pool)
    assert (anomaly["service"], anomaly["operation"]) == ("inventory", OPERATION)
    observed = json.loads(anomaly["observed"])
    assert observed["limit"] == 10
    assert 0 < observed["exhausted_in_s"] <= 900
    assert observed["slope_per_min"] > 0
    assert leak_start - timedelta(seconds=10) <= anomaly["started_at"] <= opened_at

    # Mended: the connections come back, and the forecast says so for longer than clear_after.
    mended = leak_start + timedelta(seconds=60)
    for second in range(0, 300, 5):
        await pool_reading(pool, mended + timedelta(seconds=second), used=1)
        await watch.run_once(mended + timedelta(seconds=second))
    [anomaly] = await saturation_anomalies(pool)
    assert anomaly["cleared_at"] is not None


async def test_a_busy_but_steady_pool_opens_nothing(pool: asyncpg.Pool) -> None:
    watch = SaturationWatch(DetectionRepository(pool), SaturationConfig())
    noise = random.Random(3)
    for second in range(0, 600, 5):
        await pool_reading(pool, T0 + timedelta(seconds=second), used=noise.choice([7, 8, 9]))
        await watch.run_once(T0 + timedelta(seconds=second))
    assert await saturation_anomalies(pool) == []
