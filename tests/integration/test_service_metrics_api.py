"""`GET /aiops/services/{service}/metrics` on the real PostgreSQL: the metric series a service
sends, as the writer stored them, read back as values and per-second rates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import msgspec
import pytest

from aiops_core.models import encode_batch
from aiops_detector.writer.batch import StoredPointBatch
from aiops_detector.writer.metric_repository import MetricPointRepository
from aiops_incidents.service_metrics.routes import service_metrics_router
from aiops_ingest.normalise_metrics import MetricNormaliser
from aiops_ingest.normalised import Limits
from tests.support.incidents_api import api_app, api_client
from tests.support.otlp import counter, gauge, histogram, metrics_request, number_point

NOW = datetime(2026, 12, 7, 12, 0, 30, tzinfo=UTC)
S = 1_000_000_000


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * S


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_app(pool, service_metrics_router(clock=lambda: NOW))) as client:
        yield client


async def store(pool: asyncpg.Pool, metrics: list[Any], service: str = "inventory") -> None:
    normaliser = MetricNormaliser(Limits(max_age_s=10 * 365 * 86_400), max_series_attributes=8)
    points = normaliser.from_otlp(metrics_request(metrics, service=service, instance="inventory-1")).items
    batch = msgspec.json.decode(encode_batch(uuid4(), 1, points=points), type=StoredPointBatch)
    assert await MetricPointRepository(pool, partitioned=True, series_limit=100).write_batch(batch)


async def test_gauges_counters_and_histograms_are_read_as_they_mean(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    start = NOW - timedelta(minutes=3)
    pool_attrs = {"db.client.connection.state": "used"}
    for minute, (used, served, counts) in enumerate([(2, 600, [5, 1]), (7, 1800, [10, 2])], start=1):
        at = start + timedelta(minutes=minute)
        await store(
            pool,
            [
                gauge("db.client.connection.count", [number_point(used, ns(at), attributes=pool_attrs)]),
                # Cumulative since `start`: 600 in its first minute, then 1200 more in the next.
                counter("requests", [number_point(served, ns(at), start_ns=ns(start))]),
                histogram("duration", ns(at), ns(start), counts, [100.0], 50.0 * sum(counts)),
            ],
        )
    await store(pool, [gauge("other.service.gauge", [number_point(1.0, ns(NOW))])], service="payment")

    response = await client.get("/aiops/services/inventory/metrics", params={"minutes": 10})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["service"], body["truncated"]) == ("inventory", False)
    series = {one["name"]: one for one in body["series"]}
    assert list(series) == ["db.client.connection.count", "duration", "requests"]
    used = series["db.client.connection.count"]
    assert (used["kind"], used["measure"], used["instance"]) == ("gauge", "value", "inventory-1")
    assert used["attributes"] == pool_attrs
    assert used["last"]["value"] == 7.0
    assert [p["value"] for p in used["points"]] == [2.0, 7.0]
    requests = series["requests"]
    assert (requests["kind"], requests["measure"]) == ("sum", "per_second")
    assert requests["last"]["value"] == pytest.approx(20.0)  # 1200 over its 60 s
    assert [p["value"] for p in requests["points"]] == pytest.approx([10.0, 20.0])
    duration = series["duration"]
    assert [p["value"] for p in duration["points"]] == pytest.approx([0.1, 0.1])  # 6 observations a minute
    assert duration["last"]["mean"] == pytest.approx(50.0)
    assert int(requests["series_id"]) != int(used["series_id"])


async def test_limit_truncates_and_a_service_without_metrics_has_none(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    await store(pool, [gauge(f"g{i}", [number_point(1.0, ns(NOW))]) for i in range(3)])
    limited = (await client.get("/aiops/services/inventory/metrics", params={"limit": 2})).json()
    assert ([s["name"] for s in limited["series"]], limited["truncated"]) == (["g0", "g1"], True)
    silent = (await client.get("/aiops/services/billing/metrics")).json()
    assert (silent["series"], silent["truncated"]) == ([], False)
    assert (await client.get("/aiops/services/inventory/metrics", params={"minutes": 2})).status_code == 422
