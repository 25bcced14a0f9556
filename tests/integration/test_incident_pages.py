"""Paging through incidents and anomalies with the incidents API on the real PostgreSQL: every
item once, newest first, the last page without a cursor, and a cursor that matches the schema
but was never given out is a position like any other, not an error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from aiops_core.models import Anomaly, AnomalyEvidence, AnomalyKind
from aiops_core.pagination import Cursor
from aiops_incidents.repository import IncidentRepository
from aiops_incidents.routes import incidents_router
from tests.support.incidents_api import api_app, api_client

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_app(pool, incidents_router())) as client:
        yield client


async def seven_incidents(pool: asyncpg.Pool) -> list[tuple[UUID, UUID]]:
    """Seven incidents of one anomaly each, a minute apart: (incident, anomaly) ids, oldest first."""
    incidents = IncidentRepository(pool)
    made = []
    for n in range(7):
        at = T0 + timedelta(minutes=n)
        anomaly = Anomaly(
            id=uuid4(),
            service="payment",
            operation="POST /payment",
            kind=AnomalyKind.ERROR_RATIO,
            score=0.9,
            started_at=at,
            detected_at=at,
            window_s=10,
            observed={"error_ratio": 0.5},
            baseline={"error_ratio": 0.0},
            evidence=AnomalyEvidence(),
        )
        incident_id = await incidents.create(fingerprint=uuid4().hex, title=f"n{n}", started_at=at, now=at)
        await incidents.add_member(incident_id, anomaly, at)
        made.append((incident_id, anomaly.id))
    return made


async def every_page(client: httpx.AsyncClient, path: str, limit: int) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = await client.get(path, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 10, "the cursor must move on"


async def test_pages_hold_every_incident_and_anomaly_once_newest_first(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    made = await seven_incidents(pool)
    newest_first = list(reversed(made))

    pages = await every_page(client, "/aiops/incidents", limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [UUID(i["id"]) for p in pages for i in p] == [incident for incident, _ in newest_first]

    pages = await every_page(client, "/aiops/anomalies", limit=4)
    assert [len(p) for p in pages] == [4, 3]
    assert [UUID(a["id"]) for p in pages for a in p] == [anomaly for _, anomaly in newest_first]


async def test_a_cursor_never_given_out_is_a_position_not_an_error(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    made = await seven_incidents(pool)
    # After 09:03:30 going back in time: the incidents opened at 09:03, 09:02, 09:01 and 09:00.
    position = Cursor(T0 + timedelta(minutes=3, seconds=30), UUID(int=0)).encode()
    response = await client.get("/aiops/incidents", params={"cursor": position})
    assert response.status_code == 200, response.text
    assert [UUID(i["id"]) for i in response.json()["items"]] == [i for i, _ in reversed(made[:4])]

    malformed = await client.get("/aiops/incidents", params={"cursor": "not-a-cursor"})
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "validation_error"
