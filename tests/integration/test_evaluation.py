"""The evaluation on the real Redis (single, and a three-node Redis Cluster), PostgreSQL and
RabbitMQ: two replicas judging the same tick open one anomaly, re-evaluating opens nothing more,
and after a restart (a new instance, with only Redis and the store to go by) the anomaly clears
once its series has looked normal long enough."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from aiops_core.bus import RabbitBus
from aiops_core.bus.topology import ANOMALY_QUEUE
from aiops_core.models import AnomalyEvent, AnomalyKind
from aiops_core.windows import aggregate
from aiops_detector.detection.baseline_cache import BaselineCache
from aiops_detector.detection.metrics import DetectionMetrics
from aiops_detector.detection.repository import DetectionRepository
from aiops_detector.detection.service import DetectionConfig, DetectionService
from aiops_detector.detection.window_store import WindowStore
from tests.conftest import WindowsRedis
from tests.support.bus import drain
from tests.support.spans import batch_of, request_span, span_fields

T = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)


def replica(pool: asyncpg.Pool, redis: WindowsRedis, prefix: str, bus: RabbitBus) -> DetectionService:
    repository = DetectionRepository(pool)
    windows = store(redis, prefix)
    return DetectionService(
        redis=redis.client,
        windows=windows,
        baselines=BaselineCache(
            redis.client, repository, recent=timedelta(hours=1), ttl_s=60, min_history_s=90, keys=windows.keys
        ),
        repository=repository,
        bus=bus,
        metrics=DetectionMetrics(CollectorRegistry()),
        config=DetectionConfig(clear_after=timedelta(seconds=10)),
    )


def store(redis: WindowsRedis, prefix: str) -> WindowStore:
    return WindowStore(redis.client, prefix=prefix, shards=redis.shards)


async def an_hour_of_normal_history(pool: asyncpg.Pool) -> None:
    """Per-minute rollups of payment: 10 requests a second, 0.5% errors, p50 40 ms."""
    minutes = [T - timedelta(minutes=m) for m in range(60, 0, -1)]
    await pool.executemany(
        """
        INSERT INTO series_rollups (service, operation, minute, requests, errors, p50_ms, p95_ms, p99_ms,
                                    first_start, covered_until)
        VALUES ('payment', 'POST /payment', $1::timestamptz, 600 + $2, 3, 40 + $2, 90, 120,
                $1, $1::timestamptz + interval '1 minute')
        """,
        [(minute, i % 5) for i, minute in enumerate(minutes)],
    )


async def traffic(
    windows: WindowStore, start: datetime, seconds: int, error_every: int = 0, per_s: int = 10
) -> None:
    spans = [
        request_span(
            start + timedelta(seconds=s, milliseconds=1000 // per_s * i),
            error="card processor timed out" if error_every and i % error_every == 0 else None,
        )
        for s in range(seconds)
        for i in range(per_s)
    ]
    batch = batch_of(spans)
    await windows.merge(batch.batch_id, aggregate(span_fields(batch.spans)))


async def test_replicas_open_one_anomaly_which_clears_once_calm(
    pool: asyncpg.Pool, windows_redis: WindowsRedis, redis_prefix: str, bus: RabbitBus, broker_url: str
) -> None:
    await an_hour_of_normal_history(pool)
    first, second = (replica(pool, windows_redis, redis_prefix, bus) for _ in range(2))
    windows = store(windows_redis, redis_prefix)
    await traffic(windows, T - timedelta(seconds=20), 20, error_every=2)  # half the requests fail

    await asyncio.gather(first.evaluate(T, tick_s=2), second.evaluate(T, tick_s=2))
    await first.evaluate(T + timedelta(seconds=2), tick_s=2)  # the same trouble, judged again
    events = [AnomalyEvent.model_validate_json(m.body) for m in await drain(broker_url, ANOMALY_QUEUE.name)]
    assert [(e.event, e.anomaly.service, e.anomaly.kind) for e in events] == [
        ("detected", "payment", AnomalyKind.ERROR_RATIO)
    ]
    anomaly = events[0].anomaly
    assert anomaly.observed["error_ratio"] == 0.5
    assert anomaly.baseline["error_ratio"] == pytest.approx(0.005, rel=0.01)
    assert [m.message for m in anomaly.evidence.error_messages] == ["card processor timed out"]
    assert anomaly.evidence.trace_ids

    await traffic(windows, T, 40)  # healthy again
    restarted = replica(pool, windows_redis, redis_prefix, bus)  # no state but Redis and the store
    await restarted.evaluate(T + timedelta(seconds=15), tick_s=2)
    assert await drain(broker_url, ANOMALY_QUEUE.name) == [], "calm for 0 s: still open"
    await restarted.evaluate(T + timedelta(seconds=26), tick_s=2)
    cleared = [AnomalyEvent.model_validate_json(m.body) for m in await drain(broker_url, ANOMALY_QUEUE.name)]
    assert [(e.event, e.anomaly.id) for e in cleared] == [("cleared", anomaly.id)]


async def test_a_replica_whose_runs_fall_in_one_tick_still_evaluates_the_second(
    pool: asyncpg.Pool, windows_redis: WindowsRedis, redis_prefix: str, bus: RabbitBus, broker_url: str
) -> None:
    await an_hour_of_normal_history(pool)
    detector = replica(pool, windows_redis, redis_prefix, bus)
    windows = store(windows_redis, redis_prefix)
    now = T.replace(second=0)  # a whole minute: the start of a 2-s tick
    await traffic(windows, now - timedelta(seconds=20), 20)
    await detector.evaluate(now, tick_s=2)
    await traffic(windows, now - timedelta(seconds=5), 5, error_every=2)
    await detector.evaluate(now + timedelta(seconds=1.5), tick_s=2)  # the same tick, drifted into
    events = [AnomalyEvent.model_validate_json(m.body) for m in await drain(broker_url, ANOMALY_QUEUE.name)]
    assert [(e.event, e.anomaly.kind) for e in events] == [("detected", AnomalyKind.ERROR_RATIO)]


async def test_a_restarted_detector_judges_traffic_only_once_the_queued_spans_can_be_in(
    pool: asyncpg.Pool, windows_redis: WindowsRedis, redis_prefix: str, bus: RabbitBus, broker_url: str
) -> None:
    # The spans of the last seconds are still queued: the windows hold a tenth of the usual rate.
    await an_hour_of_normal_history(pool)
    windows = store(windows_redis, redis_prefix)
    await traffic(windows, T - timedelta(seconds=60), 60, per_s=1)
    restarted = replica(pool, windows_redis, redis_prefix, bus)
    for seconds in (0, 10, 20):
        await restarted.evaluate(T + timedelta(seconds=seconds), tick_s=2)
    assert await drain(broker_url, ANOMALY_QUEUE.name) == [], "no drop while the backlog is merged"
    # Had the drop been real, it is found once the warm-up is over.
    await traffic(windows, T, 40, per_s=1)
    await restarted.evaluate(T + timedelta(seconds=35), tick_s=2)
    events = [AnomalyEvent.model_validate_json(m.body) for m in await drain(broker_url, ANOMALY_QUEUE.name)]
    assert [(e.event, e.anomaly.kind) for e in events] == [("detected", AnomalyKind.TRAFFIC_DROP)]


async def test_two_replicas_split_the_services_and_a_stopped_one_hands_its_share_over(
    pool: asyncpg.Pool, windows_redis: WindowsRedis, redis_prefix: str, bus: RabbitBus
) -> None:
    windows = store(windows_redis, redis_prefix)
    spans = [
        request_span(T - timedelta(seconds=5, milliseconds=10 * i), service=f"svc-{i}") for i in range(40)
    ]
    batch = batch_of(spans)
    await windows.merge(batch.batch_id, aggregate(span_fields(batch.spans)))
    first, second = (replica(pool, windows_redis, redis_prefix, bus) for _ in range(2))
    services = [f"svc-{i}" for i in range(40)]
    # Both announce themselves, then judge the same tick.
    await asyncio.gather(first.evaluate(T, tick_s=2), second.evaluate(T, tick_s=2))
    tick = T + timedelta(seconds=2)
    claimed = await asyncio.gather(*(r.claim(services, tick, 2) for r in (first, second)))
    assert set(claimed[0]).isdisjoint(claimed[1])
    assert sorted(claimed[0] + claimed[1]) == sorted(services)
    assert all(12 <= len(share) <= 28 for share in claimed), [len(share) for share in claimed]

    await second.replicas.stop()
    assert sorted(await first.claim(services, tick + timedelta(seconds=2), 2)) == sorted(services)
