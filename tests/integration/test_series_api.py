"""`GET /aiops/services/{service}/series` on the real PostgreSQL, from rollups written by hand:
each operation's minutes with request rate, error ratio and p95, a baseline band once ten earlier
minutes exist, the anomalies in force during the period, and 404 for a service never seen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from aiops_core.models import Anomaly, AnomalyEvidence, AnomalyKind
from aiops_incidents.repository import IncidentRepository
from aiops_incidents.series.routes import series_router
from tests.support.incidents_api import api_app, api_client

NOW = datetime(2026, 11, 28, 10, 30, 15, tzinfo=UTC)
THIS_MINUTE = NOW.replace(second=0)
MINUTE = timedelta(minutes=1)


def minute(offset: int) -> datetime:
    """The minute `offset` minutes from the one in progress."""
    return THIS_MINUTE + offset * MINUTE


async def add_rollup(
    pool: asyncpg.Pool,
    operation: str,
    offset: int,
    *,
    service: str = "payment",
    requests: int = 120,
    errors: int = 0,
    p95_ms: float = 40.0,
    covered_s: float = 60.0,
) -> None:
    start = minute(offset)
    await pool.execute(
        """
        INSERT INTO series_rollups (service, operation, minute, requests, errors, p50_ms, p95_ms, p99_ms,
                                    first_start, covered_until)
        VALUES ($1, $2, $3, $4, $5, $6, $6, $6, $3, $7)
        """,
        service,
        operation,
        start,
        requests,
        errors,
        p95_ms,
        start + timedelta(seconds=covered_s),
    )


async def add_anomaly(
    pool: asyncpg.Pool,
    operation: str,
    started_at: datetime,
    cleared_at: datetime | None = None,
    *,
    service: str = "payment",
) -> UUID:
    anomaly = Anomaly(
        id=uuid4(),
        service=service,
        operation=operation,
        kind=AnomalyKind.ERROR_RATIO,
        score=0.9,
        started_at=started_at,
        detected_at=started_at + timedelta(seconds=5),
        window_s=10,
        observed={"error_ratio": 0.5},
        baseline={"error_ratio": 0.0},
        evidence=AnomalyEvidence(),
        cleared_at=cleared_at,
    )
    incidents = IncidentRepository(pool)
    incident_id = await incidents.create(
        fingerprint=uuid4().hex, title="test", started_at=started_at, now=started_at
    )
    await incidents.add_member(incident_id, anomaly, started_at)
    return anomaly.id


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_app(pool, series_router(clock=lambda: NOW))) as client:
        yield client


async def series_of(client: httpx.AsyncClient, service: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"/aiops/services/{service}/series", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_operation(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {one["operation"]: one for one in body["series"]}


async def test_each_operation_minute_by_minute_with_its_band_once_it_has_history(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    # An hour and more of steady traffic: 2 requests/s, no errors, p95 40 ms.
    for offset in range(-70, 0):
        await add_rollup(pool, "POST /payment", offset)
    # The minute in progress, covered for 15 s so far: 30 requests are 2 per second.
    await add_rollup(pool, "POST /payment", 0, requests=30, errors=15, p95_ms=900.0, covered_s=15)
    # A young operation: three minutes, too few for a band.
    for offset in (-3, -2, -1):
        await add_rollup(pool, "GET /refunds", offset, requests=6)
    # Seen only before the period: not listed.
    await add_rollup(pool, "POST /legacy", -30)

    body = await series_of(client, "payment", minutes=5)

    assert body["service"] == "payment"
    assert body["since"] == "2026-11-28T10:26:00Z"
    assert datetime.fromisoformat(body["until"]) == NOW
    assert [one["operation"] for one in body["series"]] == ["GET /refunds", "POST /payment"]
    series = by_operation(body)
    payment = series["POST /payment"]["points"]
    assert [datetime.fromisoformat(p["minute"]) for p in payment] == [minute(o) for o in range(-4, 1)]
    steady = {"requests_per_s": [2.0, 2.0], "error_ratio": [0.0, 0.0], "p95_ms": [40.0, 40.0]}
    assert payment[0] == {
        "minute": "2026-11-28T10:26:00Z",
        "requests_per_s": 2.0,
        "error_ratio": 0.0,
        "p95_ms": 40.0,
        "baseline": steady,
    }
    assert payment[-1] == {
        "minute": "2026-11-28T10:30:00Z",
        "requests_per_s": 2.0,
        "error_ratio": 0.5,
        "p95_ms": 900.0,
        "baseline": steady,
    }
    refunds = series["GET /refunds"]["points"]
    assert [p["requests_per_s"] for p in refunds] == [0.1, 0.1, 0.1]
    assert [p["baseline"] for p in refunds] == [None, None, None]
    assert series["POST /payment"]["anomalies"] == series["GET /refunds"]["anomalies"] == []


async def test_the_band_follows_the_values_of_the_hour_before(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    # Ten minutes at 1 request/s with 10% errors, then one at 3/s.
    for offset in range(-11, -1):
        await add_rollup(pool, "POST /payment", offset, requests=60, errors=6, p95_ms=50.0)
    await add_rollup(pool, "POST /payment", -1, requests=180, errors=18, p95_ms=50.0)
    points = by_operation(await series_of(client, "payment", minutes=5))["POST /payment"]["points"]
    # Minutes -4 to -1: only the last has ten minutes before it.
    assert [p["baseline"] is None for p in points] == [True, True, True, False]
    assert points[-1]["requests_per_s"] == 3.0
    assert points[-1]["baseline"] == {
        "requests_per_s": [1.0, 1.0],
        "error_ratio": [0.1, 0.1],
        "p95_ms": [50.0, 50.0],
    }


async def test_the_anomalies_in_force_during_the_period_come_with_their_operation(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    for offset in range(-10, 1):
        await add_rollup(pool, "POST /payment", offset)
    open_now = await add_anomaly(pool, "POST /payment", minute(-2))
    ended_in_period = await add_anomaly(pool, "POST /payment", minute(-20), cleared_at=minute(-3))
    await add_anomaly(pool, "POST /payment", minute(-30), cleared_at=minute(-20))  # over before
    await add_anomaly(pool, "POST /payment", minute(-10), service="inventory")  # another service
    # Traffic stopped altogether: no rollups, but the anomaly is there.
    stopped = await add_anomaly(pool, "POST /refunds", minute(-1))

    series = by_operation(await series_of(client, "payment", minutes=5))

    assert list(series) == ["POST /payment", "POST /refunds"]
    payment = series["POST /payment"]["anomalies"]
    assert [a["id"] for a in payment] == [str(ended_in_period), str(open_now)]
    assert payment[0]["cleared_at"] == "2026-11-28T10:27:00Z"
    assert payment[1]["kind"] == "error_ratio"
    assert payment[1]["cleared_at"] is None
    assert series["POST /refunds"]["points"] == []
    assert [a["id"] for a in series["POST /refunds"]["anomalies"]] == [str(stopped)]


async def test_a_service_seen_only_long_ago_has_an_empty_series_and_an_unknown_one_is_a_404(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    await add_rollup(pool, "GET /stock", -600, service="inventory")
    quiet = await series_of(client, "inventory", minutes=60)
    assert quiet["series"] == []

    unknown = await client.get("/aiops/services/checkout/series")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "code": "not_found",
        "message": "the platform has no series of a service 'checkout'",
    }


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/aiops/services/payment/series?minutes=4", "query.minutes"),
        ("/aiops/services/payment/series?minutes=1441", "query.minutes"),
        (f"/aiops/services/{'x' * 257}/series", "path.service"),
        ("/aiops/services/pay%00ment/series", "path.service"),
    ],
)
async def test_a_bad_request_is_a_422_naming_it(client: httpx.AsyncClient, path: str, field: str) -> None:
    response = await client.get(path)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["message"]
