"""Anomaly events on the real RabbitMQ, published from the `anomalies` table: each event once
per state change, with a message id a consumer can drop duplicates by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from aiops_core.bus import RabbitBus
from aiops_core.bus.topology import ANOMALY_QUEUE
from aiops_core.models import AnomalyEvent
from aiops_detector.detection.baseline_cache import BaselineCache
from aiops_detector.detection.metrics import DetectionMetrics
from aiops_detector.detection.repository import DetectionRepository
from aiops_detector.detection.service import DetectionConfig, DetectionService
from aiops_detector.detection.window_store import WindowStore
from tests.integration.test_detection_store import anomaly
from tests.support.bus import drain


async def test_each_state_change_is_published_once(
    pool: asyncpg.Pool, redis_client: Redis, redis_prefix: str, bus: RabbitBus, broker_url: str
) -> None:
    repository = DetectionRepository(pool)
    windows = WindowStore(redis_client, prefix=redis_prefix)
    service = DetectionService(
        redis=redis_client,
        windows=windows,
        baselines=BaselineCache(
            redis_client,
            repository,
            recent=timedelta(hours=1),
            ttl_s=5,
            min_history_s=90,
            keys=windows.keys,
        ),
        repository=repository,
        bus=bus,
        metrics=DetectionMetrics(CollectorRegistry()),
        config=DetectionConfig(),
    )
    opened = anomaly()
    await repository.open(opened)

    assert await service.publish_pending() == 1
    assert await service.publish_pending() == 0, "a published event is not published again"
    now = datetime.now(UTC)
    await repository.calm(opened.id, now, timedelta(0))
    assert await service.publish_pending() == 1

    messages = await drain(broker_url, ANOMALY_QUEUE.name)
    assert [(m.routing_key, m.message_id) for m in messages] == [
        ("anomaly.detected", f"{opened.id}:detected"),
        ("anomaly.cleared", f"{opened.id}:cleared"),
    ]
    events = [AnomalyEvent.model_validate_json(m.body) for m in messages]
    assert [e.event for e in events] == ["detected", "cleared"]
    assert events[0].anomaly.id == opened.id
    assert events[0].anomaly.cleared_at is None
    assert events[1].anomaly.cleared_at is not None
