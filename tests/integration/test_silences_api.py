"""The silences API on the real PostgreSQL: create, list, delete, the platform's JSON errors, and
the scopes of the API tokens."""

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
from aiops_incidents.notifications.silences.routes import silences_router
from tests.support.incidents_api import api_app

WRITE = {"Authorization": "Bearer s3cret"}
READ = {"Authorization": "Bearer v1ewer"}


def silences_app(pool: asyncpg.Pool) -> FastAPI:
    auth = ApiAuth(parse_tokens(["ops:s3cret:write", "viewer:v1ewer:read"]), False)
    return api_app(pool, silences_router(), auth=auth)


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=silences_app(pool))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def test_create_list_and_delete_a_silence(client: httpx.AsyncClient) -> None:
    body = {"service": "payment", "kind": "error_ratio", "ends_at": at(2), "comment": "provider maintenance"}
    created = await client.post("/aiops/silences", json=body, headers=WRITE)
    assert created.status_code == 201, created.text
    silence = created.json()
    assert silence["service"] == "payment"
    assert silence["operation"] is None
    assert silence["kind"] == "error_ratio"
    assert silence["created_by"] == "ops"
    assert silence["comment"] == "provider maintenance"
    assert datetime.fromisoformat(silence["starts_at"]) <= datetime.now(UTC)

    listed = await client.get("/aiops/silences")  # reads need no token here
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()] == [silence["id"]]

    deleted = await client.delete(f"/aiops/silences/{silence['id']}", headers=WRITE)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await client.get("/aiops/silences", params={"include_expired": "true"})).json() == []

    again = await client.delete(f"/aiops/silences/{silence['id']}", headers=WRITE)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "not_found"


async def test_the_list_has_silences_in_force_and_to_come_and_on_request_the_ended_ones(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    later = (
        await client.post(
            "/aiops/silences", json={"service": "a", "starts_at": at(1), "ends_at": at(3)}, headers=WRITE
        )
    ).json()
    now = (
        await client.post("/aiops/silences", json={"service": "b", "ends_at": at(2)}, headers=WRITE)
    ).json()
    ended_id = uuid4()
    await pool.execute(
        "INSERT INTO silences (id, service, starts_at, ends_at, created_by, created_at) VALUES "
        "($1, 'c', now() - interval '2 hours', now() - interval '1 hour', 'ops', now() - interval '2 hours')",
        ended_id,
    )

    listed = (await client.get("/aiops/silences")).json()
    assert [s["id"] for s in listed] == [now["id"], later["id"]]  # soonest to end first
    everything = (await client.get("/aiops/silences", params={"include_expired": True})).json()
    assert [s["id"] for s in everything] == [str(ended_id), now["id"], later["id"]]


async def test_deleting_an_unknown_silence_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"/aiops/silences/{uuid4()}", headers=WRITE)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    malformed = await client.delete("/aiops/silences/not-a-uuid", headers=WRITE)
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"ends_at": at(1)}, "at least one matcher"),
        ({"service": "payment", "kind": "sadness", "ends_at": at(1)}, "body.kind"),
        ({"service": "payment"}, "body.ends_at"),
    ],
)
async def test_a_malformed_silence_is_a_422_with_the_reason(
    client: httpx.AsyncClient, body: dict[str, Any], says: str
) -> None:
    response = await client.post("/aiops/silences", json=body, headers=WRITE)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert says in error["message"]
    assert (await client.get("/aiops/silences", params={"include_expired": True})).json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"service": "payment", "starts_at": at(2), "ends_at": at(1)},
        {"service": "payment", "ends_at": at(-1)},
    ],
    ids=["ends-before-it-starts", "ended-already"],
)
async def test_a_silence_that_could_never_be_in_force_is_a_409_with_the_reason(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    """Well formed (the schema cannot say "after now"), but never in force at the time it arrives."""
    response = await client.post("/aiops/silences", json=body, headers=WRITE)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert "would never be in force: ends_at must be after starts_at and after now" in error["message"]
    assert error["details"] == [{"field": "body.ends_at", "message": "must be after starts_at and after now"}]
    assert (await client.get("/aiops/silences", params={"include_expired": True})).json() == []


async def test_changing_silences_needs_a_write_token(client: httpx.AsyncClient) -> None:
    body = {"service": "payment", "ends_at": at(1)}
    anonymous = await client.post("/aiops/silences", json=body)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    assert (
        await client.post("/aiops/silences", json=body, headers={"Authorization": "Bearer nope"})
    ).status_code == 401
    reader = await client.post("/aiops/silences", json=body, headers=READ)
    assert reader.status_code == 403
    assert reader.json()["error"]["code"] == "forbidden"
    assert (await client.delete(f"/aiops/silences/{uuid4()}", headers=READ)).status_code == 403
    assert (await client.get("/aiops/silences", headers=READ)).status_code == 200


def test_every_silences_route_is_documented_with_examples(pool: asyncpg.Pool) -> None:
    paths = silences_app(pool).openapi()["paths"]
    operations = [
        paths["/aiops/silences"]["get"],
        paths["/aiops/silences"]["post"],
        paths["/aiops/silences/{silence_id}"]["delete"],
    ]
    for operation in operations:
        assert operation["summary"]
        assert operation["description"]
        for code, response in operation["responses"].items():
            if code != "204":
                assert "example" in response["content"]["application/json"], (operation["summary"], code)
    post = paths["/aiops/silences"]["post"]
    assert post["requestBody"]["content"]["application/json"]["examples"]
    assert set(post["responses"]) >= {"201", "401", "403", "409", "422"}
    assert "404" in paths["/aiops/silences/{silence_id}"]["delete"]["responses"]
