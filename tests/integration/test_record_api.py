"""`GET /aiops/stats/record` on the real PostgreSQL: incidents opened and resolved per day or hour
with their mean times to detect and resolve, every period present, on a grid of UTC midnights
and hours whatever the database session's time zone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from aiops_incidents.record.routes import record_router
from tests.support.incidents_api import api_app, api_client

NOW = datetime(2026, 11, 28, 10, 30, tzinfo=UTC)
# Two days after New York left daylight saving time (1 November 2026).
AFTER_DST_ENDED = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def add_incident(pool: asyncpg.Pool, started: str, opened: str, resolved: str | None = None) -> None:
    await pool.execute(
        """
        INSERT INTO incidents (id, fingerprint, status, severity, title, started_at, opened_at,
                               resolved_at, updated_at)
        VALUES ($1, $2, $3, 'low', 'test', $4, $5, $6, $5)
        """,
        uuid4(),
        uuid4().hex,
        "resolved" if resolved else "open",
        at(started),
        at(opened),
        at(resolved) if resolved else None,
    )


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_app(pool, record_router(clock=lambda: NOW))) as client:
        yield client


async def record(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/aiops/stats/record", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def starts(body: dict[str, Any]) -> list[datetime]:
    return [datetime.fromisoformat(p["start"]) for p in body["periods"]]


async def test_counts_and_mean_times_per_day_with_every_day_present(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    # Opened before the three days asked for, resolved on the first: only its resolution counts.
    await add_incident(pool, "2026-11-25T00:00:00", "2026-11-25T00:01:00", "2026-11-26T00:00:00")
    # Two opened on the 27th (detected after 90 s and 60 s), resolved on the 27th and the 28th.
    await add_incident(pool, "2026-11-26T23:59:00", "2026-11-27T00:00:30", "2026-11-27T01:00:00")
    await add_incident(pool, "2026-11-27T12:00:00", "2026-11-27T12:01:00", "2026-11-28T09:00:00")
    # Opened today, still open; and one from a clock ahead of ours, in no period.
    await add_incident(pool, "2026-11-28T10:00:00", "2026-11-28T10:00:10")
    await add_incident(pool, "2026-11-29T10:00:00", "2026-11-29T10:00:10")

    body = await record(client, bucket="day", periods=3)

    assert body["bucket"] == "day"
    assert body["periods"] == [
        {"start": "2026-11-26T00:00:00Z", "opened": 0, "resolved": 1, "mttd_s": None, "mttr_s": 86400.0},
        {"start": "2026-11-27T00:00:00Z", "opened": 2, "resolved": 1, "mttd_s": 75.0, "mttr_s": 3660.0},
        {"start": "2026-11-28T00:00:00Z", "opened": 1, "resolved": 1, "mttd_s": 10.0, "mttr_s": 75600.0},
    ]


async def test_by_default_two_weeks_of_days_or_a_day_of_hours_up_to_now(client: httpx.AsyncClient) -> None:
    days = await record(client)
    assert days["bucket"] == "day"
    assert starts(days) == [at("2026-11-28T00:00:00") - timedelta(days=13 - d) for d in range(14)]
    assert {(p["opened"], p["resolved"], p["mttd_s"], p["mttr_s"]) for p in days["periods"]} == {
        (0, 0, None, None)
    }

    hours = await record(client, bucket="hour")
    assert starts(hours) == [at("2026-11-28T10:00:00") - timedelta(hours=23 - h) for h in range(24)]


async def test_hours_count_what_happened_in_each_hour(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    await add_incident(pool, "2026-11-28T08:59:00", "2026-11-28T09:00:00", "2026-11-28T10:29:59")
    await add_incident(pool, "2026-11-28T08:00:00", "2026-11-28T08:59:59")
    body = await record(client, bucket="hour", periods=3)
    assert [(p["opened"], p["resolved"], p["mttd_s"], p["mttr_s"]) for p in body["periods"]] == [
        (1, 0, 3599.0, None),
        (1, 0, 60.0, None),
        (0, 1, None, 5459.0),
    ]


async def test_periods_start_at_utc_midnight_whatever_the_sessions_time_zone(
    database_url: str, pool: asyncpg.Pool
) -> None:
    await add_incident(pool, "2026-11-27T23:00:00", "2026-11-27T23:30:00")
    # Kathmandu is 5:45 ahead of UTC; New York changes its offset within the periods asked for.
    for zone in ("Asia/Kathmandu", "America/New_York"):
        zoned = await asyncpg.create_pool(
            database_url, min_size=1, max_size=1, server_settings={"TimeZone": zone}
        )
        try:
            async with api_client(api_app(zoned, record_router(clock=lambda: AFTER_DST_ENDED))) as client:
                body = await record(client, bucket="day", periods=7)
                assert starts(body) == [at("2026-10-28T00:00:00") + timedelta(days=d) for d in range(7)]
            async with api_client(api_app(zoned, record_router(clock=lambda: NOW))) as client:
                body = await record(client, bucket="day", periods=2)
                assert [p["opened"] for p in body["periods"]] == [1, 0], zone
        finally:
            await zoned.close()


async def test_up_to_168_periods_of_either_length(client: httpx.AsyncClient) -> None:
    assert len((await record(client, bucket="day", periods=168))["periods"]) == 168
    assert len((await record(client, bucket="hour", periods=168))["periods"]) == 168
    refused = await client.get("/aiops/stats/record", params={"bucket": "day", "periods": 169})
    assert refused.status_code == 422


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bucket": "week"}, "query.bucket"),
        ({"periods": 0}, "query.periods"),
        ({"bucket": "hour", "periods": 169}, "query.periods"),
        ({"periods": "many"}, "query.periods"),
    ],
)
async def test_a_bad_query_is_a_422_naming_it(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await client.get("/aiops/stats/record", params=params)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["message"]
