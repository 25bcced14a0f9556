"""The incident event stream over real HTTP (uvicorn on a free port: httpx's ASGITransport waits
for the whole body, which an event stream never finishes), on the real Redis and on fakeredis
(the all-in-one mode): a notification published on the channel arrives as an event, quiet
streams get keepalives, and the subscription goes away with the client, when the stream is told
to close, and when the server stops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import uuid4

import httpx
import pytest
from fakeredis import FakeAsyncRedis, FakeServer
from fastapi import FastAPI
from redis.asyncio import Redis

from aiops_incidents.auth import ApiAuth, parse_tokens
from aiops_incidents.dependencies import get_notifications
from aiops_incidents.notifications.channel import NotificationChannel
from aiops_incidents.notifications.stream import stream_router
from aiops_incidents.schemas import (
    EventType,
    IncidentNotification,
    IncidentStatus,
    IncidentSummary,
    Severity,
    TimelineEvent,
)
from tests.support.incidents_api import api_app
from tests.support.processes import free_port
from tests.support.serving import LocalServer, serving
from tests.support.waiting import eventually

STREAM = "/aiops/incidents/stream"


def stream_app(
    redis: Redis,
    prefix: str,
    *,
    auth: ApiAuth | None = None,
    keepalive_s: float = 15.0,
    closing: asyncio.Event | None = None,
) -> FastAPI:
    return api_app(
        None,
        stream_router(keepalive_s=keepalive_s, closing=closing),
        auth=auth or ApiAuth((), False),
        overrides={get_notifications: NotificationChannel.of(redis, prefix)},
    )


def notification(event_id: int) -> IncidentNotification:
    now = datetime.now(UTC)
    return IncidentNotification(
        event=TimelineEvent(id=event_id, at=now, type=EventType.OPENED, actor="system"),
        incident=IncidentSummary(
            id=uuid4(),
            status=IncidentStatus.OPEN,
            severity=Severity.HIGH,
            title="payment POST /payment: error ratio",
            fingerprint="payment|POST /payment|error_ratio",
            root_cause=None,
            services=["payment"],
            anomaly_count=1,
            started_at=now,
            opened_at=now,
            updated_at=now,
        ),
    )


async def subscribers(redis: Redis, channel: str) -> int:
    [(_, count)] = await redis.pubsub_numsub(channel)
    return int(count)


async def next_frame(lines: AsyncIterator[str], timeout_s: float = 10.0) -> list[str]:
    """The lines of the next event or comment, up to the blank line that ends it."""
    frame: list[str] = []
    async with asyncio.timeout(timeout_s):
        async for line in lines:
            if line == "":
                if frame:
                    return frame
                continue
            frame.append(line)
    raise AssertionError(f"the stream ended in the middle of {frame}")


@pytest.fixture(params=["redis", "fakeredis"])
async def redis(request: pytest.FixtureRequest, redis_client: Redis) -> AsyncIterator[Redis]:
    """The app's Redis: the real server, or fakeredis as the all-in-one mode runs it."""
    if request.param == "redis":
        yield redis_client
        return
    fake = FakeAsyncRedis(server=FakeServer())
    yield fake
    await fake.aclose()


async def test_a_published_notification_arrives_as_an_event(redis: Redis, redis_prefix: str) -> None:
    channel = f"{redis_prefix}incidents"
    sent = notification(41)
    async with (
        serving(stream_app(redis, redis_prefix)) as server,
        httpx.AsyncClient(base_url=server.url) as client,
        client.stream("GET", STREAM) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        # Subscribed before the response started: a 200 means nothing published now is missed.
        assert await subscribers(redis, channel) == 1
        await redis.publish(channel, sent.model_dump_json())
        lines = response.aiter_lines()
        frame = await next_frame(lines)

    assert frame[0] == "event: incident"
    assert frame[1].startswith("data: ")
    assert IncidentNotification.model_validate_json(frame[1].removeprefix("data: ")) == sent
    assert frame[2] == "id: 41"
    await eventually(lambda: subscribers(redis, channel), lambda n: n == 0, timeout_s=10, what="unsubscribed")


async def test_a_quiet_stream_gets_keepalives_and_skips_what_is_no_notification(
    redis: Redis, redis_prefix: str
) -> None:
    channel = f"{redis_prefix}incidents"
    app = stream_app(redis, redis_prefix, keepalive_s=0.3)
    async with (
        serving(app) as server,
        httpx.AsyncClient(base_url=server.url) as client,
        client.stream("GET", STREAM) as response,
    ):
        lines = response.aiter_lines()
        assert await next_frame(lines) == [": keepalive"]
        await redis.publish(channel, b"not json")
        await redis.publish(channel, notification(7).model_dump_json())
        frame = await next_frame(lines)
        while frame == [": keepalive"]:
            frame = await next_frame(lines)
        assert frame[2] == "id: 7"


async def test_the_subscription_ends_with_the_client(redis: Redis, redis_prefix: str) -> None:
    channel = f"{redis_prefix}incidents"
    async with (
        serving(stream_app(redis, redis_prefix)) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        for _ in range(3):
            async with client.stream("GET", STREAM) as response:
                assert response.status_code == 200
                assert await subscribers(redis, channel) == 1
            # The client left without reading: the server notices and unsubscribes.
            await eventually(
                lambda: subscribers(redis, channel), lambda n: n == 0, timeout_s=10, what="unsubscribed"
            )


async def test_streams_end_when_told_to_close(redis: Redis, redis_prefix: str) -> None:
    channel = f"{redis_prefix}incidents"
    closing = asyncio.Event()
    app = stream_app(redis, redis_prefix, closing=closing)
    async with (
        serving(app) as server,
        httpx.AsyncClient(base_url=server.url) as client,
        client.stream("GET", STREAM) as response,
    ):
        assert await subscribers(redis, channel) == 1
        closing.set()
        async with asyncio.timeout(5):
            rest = [line async for line in response.aiter_lines()]
    assert [line for line in rest if line] == []
    assert await subscribers(redis, channel) == 0


async def test_a_stopping_server_closes_open_streams(redis: Redis, redis_prefix: str) -> None:
    channel = f"{redis_prefix}incidents"
    server = LocalServer(stream_app(redis, redis_prefix), graceful_timeout_s=1)
    await server.start()
    stopped = False
    try:
        async with httpx.AsyncClient(base_url=server.url) as client, client.stream("GET", STREAM) as response:
            assert await subscribers(redis, channel) == 1
            # Past its graceful timeout the server cancels the stream; the subscription still
            # closes properly.
            async with asyncio.timeout(10):
                await server.stop()
            stopped = True
            # uvicorn cancels the request task and returns without waiting for it to unwind.
            await eventually(
                lambda: subscribers(redis, channel), lambda n: n == 0, timeout_s=5, what="unsubscribed"
            )
            with contextlib.suppress(httpx.HTTPError):
                async for _ in response.aiter_lines():
                    pass
    finally:
        if not stopped:
            await server.stop()


async def test_reading_the_stream_needs_a_read_token_when_reads_require_one(
    redis_client: Redis, redis_prefix: str
) -> None:
    auth = ApiAuth(parse_tokens(["viewer:v1ewer:read"]), True)
    app = stream_app(redis_client, redis_prefix, auth=auth)
    async with serving(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        refused = await client.get(STREAM)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
        async with client.stream("GET", STREAM, headers={"Authorization": "Bearer v1ewer"}) as response:
            assert response.status_code == 200


async def test_without_redis_the_stream_answers_503(redis_prefix: str) -> None:
    nowhere = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    try:
        async with (
            serving(stream_app(nowhere, redis_prefix)) as server,
            httpx.AsyncClient(base_url=server.url) as client,
        ):
            response = await client.get(STREAM)
    finally:
        await nowhere.aclose()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "dependency_unavailable"


def test_the_stream_is_documented_in_openapi() -> None:
    app = stream_app(FakeAsyncRedis(), "aiops:")
    operation = app.openapi()["paths"][STREAM]["get"]
    assert operation["summary"]
    assert "keepalive" in operation["description"]
    content = operation["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]
    assert content["text/event-stream"]["example"].startswith("event: incident\ndata: {")
    assert {"401", "403", "503"} <= set(operation["responses"])
