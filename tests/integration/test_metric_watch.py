"""The live metric watch on the real PostgreSQL: a gauge or a counter far from its own normal for
three steps opens an anomaly of kind metric with the value and its baseline; the anomaly outlasts
a restart of the watch mid-fault (the fault was never learned as normal, and is not learned from
the store either) and clears once the series is back; a busy series whose normal life is a
sawtooth opens nothing."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from aiops_core.models import AnomalyKind
from aiops_detector.detection.metric_watch import MetricWatch, MetricWatchConfig
from aiops_detector.detection.repository import DetectionRepository
from tests.support.otlp import counter, gauge, metrics_request, number_point
from tests.support.stored_telemetry import store_metrics

# On a step boundary, so that when a fault begins is a step's start.
T0 = datetime.fromtimestamp(math.floor(datetime.now(UTC).timestamp() / 60) * 60, UTC) - timedelta(minutes=90)
EVERY = timedelta(seconds=5)
LEARNED = timedelta(minutes=15)
DEPTH = "messaging.queue.depth on orders-1"


def ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


def watch_on(pool: asyncpg.Pool) -> MetricWatch:
    return MetricWatch(DetectionRepository(pool), MetricWatchConfig(clear_after=timedelta(seconds=10)))


Reading = Callable[[int], float]


async def store_gauge(pool: asyncpg.Pool, start: datetime, end: datetime, value: Reading) -> None:
    """The gauge the orders service exports every 5 s from `start` until before `end`."""
    steps = int((end - start) / EVERY)
    points = [number_point(value(i), ns(start + i * EVERY)) for i in range(steps)]
    await store_metrics(
        pool, metrics_request([gauge("messaging.queue.depth", points)], service="orders", instance="orders-1")
    )


async def metric_anomalies(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            "SELECT operation, observed, baseline, started_at, cleared_at FROM anomalies WHERE kind = $1",
            AnomalyKind.METRIC.value,
        )
    )


async def test_a_gauge_far_from_normal_opens_outlasts_a_restart_and_clears_once_back(
    pool: asyncpg.Pool,
) -> None:
    noise = random.Random(1)
    normal = lambda _: 20 + noise.gauss(0, 2)  # noqa: E731
    faulty = lambda _: 80 + noise.gauss(0, 2)  # noqa: E731
    fault_start = T0 + LEARNED
    await store_gauge(pool, T0, fault_start, normal)
    watch = watch_on(pool)
    await watch.run_once(fault_start)

    opened_at = None
    for second in range(0, 120, 5):
        now = fault_start + timedelta(seconds=second)
        await store_gauge(pool, now, now + EVERY, faulty)
        await watch.run_once(now + EVERY)
        if await metric_anomalies(pool):
            opened_at = now + EVERY
            break
    assert opened_at is not None, "two minutes at four times normal opened nothing"
    assert opened_at - fault_start <= timedelta(seconds=50)
    [anomaly] = await metric_anomalies(pool)
    assert anomaly["operation"] == DEPTH
    assert fault_start <= anomaly["started_at"] < fault_start + timedelta(seconds=10)
    observed, baseline = json.loads(anomaly["observed"]), json.loads(anomaly["baseline"])
    assert 70 < observed["value"] < 90
    assert 3 < observed["times_normal"] < 5
    assert 18 < baseline["value"] < 22

    # The fault goes on for ten minutes; the watch restarts, and learns the store's past anew.
    restart = opened_at + timedelta(minutes=10)
    await store_gauge(pool, opened_at, restart, faulty)
    watch = watch_on(pool)
    await watch.run_once(restart)
    for second in range(0, 60, 5):
        now = restart + timedelta(seconds=second)
        await store_gauge(pool, now, now + EVERY, faulty)
        await watch.run_once(now + EVERY)
    [anomaly] = await metric_anomalies(pool)
    assert anomaly["cleared_at"] is None, "the restarted watch learned the fault as normal"

    recovered = restart + timedelta(seconds=60)
    for second in range(0, 90, 5):
        now = recovered + timedelta(seconds=second)
        await store_gauge(pool, now, now + EVERY, normal)
        await watch.run_once(now + EVERY)
    [anomaly] = await metric_anomalies(pool)
    assert anomaly["cleared_at"] is not None, "back to normal for 90 s and still open"


async def test_a_counter_whose_rate_jumps_opens_an_anomaly_on_its_rate_which_clears_once_it_is_gone(
    pool: asyncpg.Pool,
) -> None:
    noise = random.Random(2)
    total = 0.0
    watch = watch_on(pool)

    async def count(start: datetime, end: datetime, per_s: float) -> None:
        nonlocal total
        points = []
        at = start
        while at < end:
            total += max(0.0, per_s * 5 + noise.gauss(0, per_s / 2))
            points.append(number_point(total, ns(at), start_ns=ns(T0)))
            at += EVERY
        retried = counter("queue.messages.retried", points)
        await store_metrics(pool, metrics_request([retried], service="orders", instance="orders-1"))

    await count(T0, T0 + LEARNED, per_s=5)
    await watch.run_once(T0 + LEARNED)
    for second in range(0, 120, 5):
        now = T0 + LEARNED + timedelta(seconds=second)
        await count(now, now + EVERY, per_s=50)
        await watch.run_once(now + EVERY)
    [anomaly] = await metric_anomalies(pool)
    assert anomaly["operation"] == "queue.messages.retried on orders-1"
    assert json.loads(anomaly["observed"])["rate_per_s"] > 25
    assert json.loads(anomaly["baseline"])["rate_per_s"] < 10

    # The counter is no longer sent: its series is forgotten and its anomaly clears.
    await pool.execute("UPDATE metric_series SET last_seen = last_seen - interval '3 hours'")
    gone = T0 + LEARNED + timedelta(minutes=2)
    for second in (0, 15):
        await watch.run_once(gone + timedelta(seconds=second))
    [anomaly] = await metric_anomalies(pool)
    assert anomaly["cleared_at"] is not None


async def test_a_sawtooth_that_is_normal_opens_nothing(pool: asyncpg.Pool) -> None:
    """Memory that a collector empties every two minutes, with noise, for an hour."""
    noise = random.Random(3)

    def memory(i: int) -> float:
        return 100e6 + (i % 24) * 1.5e6 + noise.gauss(0, 0.5e6)

    await store_gauge(pool, T0, T0 + LEARNED, memory)
    watch = watch_on(pool)
    await watch.run_once(T0 + LEARNED)
    for minute in range(15, 60):
        start = T0 + timedelta(minutes=minute)
        later = lambda i, first=minute * 12: memory(first + i)  # noqa: E731
        await store_gauge(pool, start, start + timedelta(minutes=1), later)
        await watch.run_once(start + timedelta(minutes=1))
    assert await metric_anomalies(pool) == []
