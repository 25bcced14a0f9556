"""The changes API on the real PostgreSQL: a change posted by a pipeline is listed with the ones
the rollup recorded from the spans, filtered by service and time; bad input is a clear error and
stores nothing; posting needs a write token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from aiops_incidents.auth import ApiAuth, parse_tokens
from aiops_incidents.changes.routes import changes_router
from tests.support.incidents_api import api_app

WRITE = {"Authorization": "Bearer s3cret"}
READ = {"Authorization": "Bearer v1ewer"}


def changes_app(pool: asyncpg.Pool) -> FastAPI:
    auth = ApiAuth(parse_tokens(["ci:s3cret:write", "viewer:v1ewer:read"]), False)
    return api_app(pool, changes_router(), auth=auth)


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=changes_app(pool))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


async def test_a_posted_change_is_listed_with_those_seen_in_spans(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    body = {
        "service": "payment",
        "old_version": "1.4.2",
        "new_version": "1.5.0",
        "attributes": {"commit": "9f2c1ab"},
    }
    created = await client.post("/aiops/changes", json=body, headers=WRITE)
    assert created.status_code == 201, created.text
    change = created.json()
    assert change["kind"] == "deploy"
    assert change["source"] == "api"
    assert change["attributes"] == {"commit": "9f2c1ab"}
    assert abs(datetime.fromisoformat(change["at"]) - datetime.now(UTC)) < timedelta(seconds=5)
    flag = {
        "service": "frontend",
        "kind": "feature_flag",
        "summary": "new-checkout on",
        "at": ago(30).isoformat(),
    }
    assert (await client.post("/aiops/changes", json=flag, headers=WRITE)).status_code == 201
    await pool.execute(
        "INSERT INTO changes (id, service, kind, at, old_version, new_version, source) "
        "VALUES ($1, 'payment', 'deploy', $2, '1.4.1', '1.4.2', 'spans')",
        uuid4(),
        ago(60 * 5),
    )

    listed = (await client.get("/aiops/changes", headers=READ)).json()
    assert [(c["service"], c["kind"]) for c in listed] == [
        ("payment", "deploy"),
        ("frontend", "feature_flag"),
        ("payment", "deploy"),
    ]
    assert listed[2]["source"] == "spans"
    payment = (await client.get("/aiops/changes", params={"service": "payment"}, headers=READ)).json()
    assert [c["new_version"] for c in payment] == ["1.5.0", "1.4.2"]
    window = {"since": ago(60).isoformat(), "until": ago(10).isoformat()}
    assert [
        c["service"] for c in (await client.get("/aiops/changes", params=window, headers=READ)).json()
    ] == ["frontend"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"kind": "deploy"}, "body.service"),
        ({"service": "payment", "kind": "redeploy"}, "body.kind"),
        ({"service": "payment", "at": "yesterday"}, "body.at"),
        ({"service": ""}, "body.service"),
    ],
)
async def test_a_malformed_change_is_a_422_naming_the_field_and_stores_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], says: str
) -> None:
    response = await client.post("/aiops/changes", json=body, headers=WRITE)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert says in error["message"]
    assert (await client.get("/aiops/changes", headers=READ)).json() == []


async def test_a_period_that_ends_before_it_starts_is_a_409(client: httpx.AsyncClient) -> None:
    params = {"since": ago(10).isoformat(), "until": ago(20).isoformat()}
    response = await client.get("/aiops/changes", params=params, headers=READ)
    assert response.status_code == 409
    assert response.json()["error"]["details"] == [{"field": "query.since", "message": "after until"}]


async def test_recording_a_change_needs_a_write_token(client: httpx.AsyncClient) -> None:
    body = {"service": "payment"}
    assert (await client.post("/aiops/changes", json=body)).status_code == 401
    assert (await client.post("/aiops/changes", json=body, headers=READ)).status_code == 403
    assert (await client.get("/aiops/changes", headers=READ)).json() == []
