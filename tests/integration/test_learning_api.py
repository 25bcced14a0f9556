"""What is still learning, and a lasting change accepted as normal, through the incidents API on
the real PostgreSQL: `GET /aiops/services` says "learning" (never "ok") for a service whose
series have not learned their baselines, a failing service is failing whether it learned or not,
each series says how long it still learns, and `POST .../series/accept` records the acceptance
where the detector reads it and on the timeline of the incident it concerns."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from aiops_core.models import Anomaly, AnomalyEvidence, AnomalyKind
from aiops_detector.detection.repository import DetectionRepository
from aiops_incidents.dependencies import get_live_stats, get_service
from aiops_incidents.live_stats import LiveStats
from aiops_incidents.metrics import IncidentMetrics
from aiops_incidents.repository import IncidentRepository
from aiops_incidents.routes import incidents_router
from aiops_incidents.series.routes import series_router
from aiops_incidents.service import IncidentService, LifecycleConfig
from tests.integration.test_series_api import add_rollup
from tests.support.incidents_api import api_app, api_client

NOW = datetime(2026, 11, 28, 10, 30, 15, tzinfo=UTC)
PAYMENT = ("payment", "POST /payment")


@pytest.fixture
async def client(
    pool: asyncpg.Pool, redis_client: Redis, redis_prefix: str
) -> AsyncIterator[httpx.AsyncClient]:
    live_stats = LiveStats(redis_client, prefix=redis_prefix)
    service = IncidentService(
        pool,
        metrics=IncidentMetrics(CollectorRegistry()),
        live_stats=live_stats,
        config=LifecycleConfig(),
        clock=lambda: NOW,
    )
    routers = (incidents_router(clock=lambda: NOW), series_router(clock=lambda: NOW))
    async with api_client(
        api_app(pool, *routers, overrides={get_service: service, get_live_stats: live_stats})
    ) as client:
        yield client


async def learned(
    pool: asyncpg.Pool, service: str, operation: str, *, errors_s: float, ago_s: float = 0
) -> None:
    """What the detector records when it learns a series' baseline: its rate and latency have
    an hour of healthy history, its errors `errors_s`."""
    await pool.execute(
        "INSERT INTO series_learning (service, operation, measured_at, history_s, min_history_s) "
        "VALUES ($1, $2, $3, $4, 90)",
        service,
        operation,
        NOW - timedelta(seconds=ago_s),
        json.dumps({"rate": 3600.0, "errors": errors_s, "latency": 3600.0}),
    )


def anomaly(service: str, operation: str, kind: AnomalyKind) -> Anomaly:
    started_at = NOW - timedelta(minutes=5)
    return Anomaly(
        id=uuid4(),
        service=service,
        operation=operation,
        kind=kind,
        score=0.9,
        started_at=started_at,
        detected_at=started_at + timedelta(seconds=2),
        window_s=10,
        observed={"p95_ms": 300.0},
        baseline={"p95_ms": 90.0},
        evidence=AnomalyEvidence(),
    )


async def incident_with(pool: asyncpg.Pool, member: Anomaly) -> UUID:
    incidents = IncidentRepository(pool)
    incident_id = await incidents.create(
        fingerprint=uuid4().hex, title="test", started_at=member.started_at, now=member.detected_at
    )
    await incidents.add_member(incident_id, member, member.detected_at)
    return incident_id


async def nodes(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await client.get("/aiops/services")
    assert response.status_code == 200, response.text
    return {node["service"]: node for node in response.json()["services"]}


async def test_a_service_still_learning_is_learning_not_ok_and_a_failing_one_is_failing(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    # payment's errors have 30 s of the 90 they need, measured 10 s ago: 50 s to go.
    await learned(pool, *PAYMENT, errors_s=30, ago_s=10)
    await learned(pool, "payment", "GET /refunds", errors_s=3600)
    await learned(pool, "inventory", "GET /stock", errors_s=3600)
    # checkout learns too, but fails beyond the floor: an error anomaly is open on it.
    await learned(pool, "checkout", "POST /checkout", errors_s=0)
    await incident_with(pool, anomaly("checkout", "POST /checkout", AnomalyKind.ERROR_RATIO))
    # A series the detector stopped learning long ago (no traffic since) says nothing now.
    await learned(pool, "legacy", "GET /old", errors_s=0, ago_s=3600)

    found = await nodes(client)

    assert set(found) == {"payment", "inventory", "checkout"}
    assert found["payment"] == {
        "service": "payment",
        "kind": "service",
        "health": "learning",
        "open_anomalies": 0,
        "learning": True,
        "learning_remaining_s": 50.0,
    }
    assert found["inventory"]["health"] == "ok"
    assert found["inventory"]["learning"] is False
    assert found["inventory"]["learning_remaining_s"] is None
    assert found["checkout"]["health"] == "failing"
    assert found["checkout"]["learning"] is True


async def test_each_series_says_whether_it_learns_and_for_how_long_still(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    await add_rollup(pool, "POST /payment", -1)
    await add_rollup(pool, "GET /refunds", -1)
    await learned(pool, *PAYMENT, errors_s=80, ago_s=2)
    response = await client.get("/aiops/services/payment/series", params={"minutes": 5})
    assert response.status_code == 200, response.text
    series = {one["operation"]: one for one in response.json()["series"]}
    assert series["POST /payment"]["learning"] == {
        "learning": True,
        "remaining_s": 8.0,
        "history_s": {"rate": 3600.0, "errors": 80.0, "latency": 3600.0},
        "min_history_s": 90.0,
        "measured_at": "2026-11-28T10:30:13Z",
    }
    assert series["GET /refunds"]["learning"] is None, "not learned by the detector yet"


async def test_accepting_a_change_as_normal_is_read_by_the_detector_and_on_the_incident(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    await add_rollup(pool, "POST /payment", -1)
    slow = anomaly(*PAYMENT, AnomalyKind.LATENCY)
    await DetectionRepository(pool).open(slow)
    concerned = await incident_with(pool, slow)
    other = await incident_with(pool, anomaly(*PAYMENT, AnomalyKind.ERROR_RATIO))

    response = await client.post(
        "/aiops/services/payment/series/accept",
        json={"operation": "POST /payment", "kind": "latency", "comment": "v2 is 20 ms slower by design"},
    )

    assert response.status_code == 201, response.text
    assert response.json() == {
        "service": "payment",
        "operation": "POST /payment",
        "kind": "latency",
        "accepted_at": "2026-11-28T10:30:15Z",
        "accepted_by": "anonymous",
        "comment": "v2 is 20 ms slower by design",
        "incidents": [str(concerned)],
    }
    [(open_slow)] = await DetectionRepository(pool).open_anomalies()
    assert open_slow.anomaly.id == slow.id
    assert open_slow.accepted_at == NOW, "the detector sees the acceptance and clears the anomaly"
    detail = (await client.get(f"/aiops/incidents/{concerned}")).json()
    [accepted] = [e for e in detail["timeline"] if e["type"] == "accepted_as_normal"]
    assert accepted["actor"] == "anonymous"
    assert accepted["detail"] == {
        "service": "payment",
        "operation": "POST /payment",
        "kind": "latency",
        "comment": "v2 is 20 ms slower by design",
    }
    untouched = (await client.get(f"/aiops/incidents/{other}")).json()
    assert "accepted_as_normal" not in {e["type"] for e in untouched["timeline"]}


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/aiops/services/payment/series/accept", {"operation": "GET /nothing", "kind": "latency"}, 404),
        ("/aiops/services/nobody/series/accept", {"operation": "POST /payment", "kind": "latency"}, 404),
        (
            "/aiops/services/payment/series/accept",
            {"operation": "POST /payment", "kind": "multivariate"},
            422,
        ),
        ("/aiops/services/payment/series/accept", {"operation": "", "kind": "latency"}, 422),
        ("/aiops/services/payment/series/accept", {"kind": "latency"}, 422),
    ],
)
async def test_an_acceptance_of_nothing_known_is_refused_and_records_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool, path: str, body: dict[str, str], status: int
) -> None:
    await add_rollup(pool, "POST /payment", -1)
    response = await client.post(path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]
    assert await pool.fetchval("SELECT count(*) FROM baseline_acceptances") == 0
