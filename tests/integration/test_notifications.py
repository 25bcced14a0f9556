"""Incident notifications on the real PostgreSQL, Redis and RabbitMQ: the outbox fans each event
out once (the Redis channel, webhook deliveries for paging events unless silenced), even with two
replicas at once; the dispatcher posts deliveries to a real HTTP receiver, retries with the same
delivery id, and dead-letters what never gets through."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aiops_core.bus import Bus, InMemoryBus, RabbitBus
from aiops_core.bus.topology import DEAD_LETTER_REASON_HEADER, WEBHOOK_DEAD_LETTERS
from aiops_core.models import AnomalyKind
from aiops_incidents.notifications.metrics import NotificationMetrics
from aiops_incidents.notifications.outbox import NotificationOutbox
from aiops_incidents.notifications.silences.repository import SilenceRepository
from aiops_incidents.notifications.webhooks import WebhookDispatcher
from aiops_incidents.schemas import (
    EventType,
    IncidentNotification,
    SilenceIn,
)
from aiops_incidents.settings import IncidentSettings
from tests.support.bus import depth, drain
from tests.support.processes import free_port
from tests.support.serving import serving
from tests.support.waiting import eventually

# --- incidents and events written the way the domain writes them -----------------------------


async def insert_incident(
    pool: asyncpg.Pool,
    *,
    service: str = "payment",
    operation: str = "POST /payment",
    kind: AnomalyKind = AnomalyKind.ERROR_RATIO,
) -> UUID:
    incident_id = uuid4()
    now = datetime.now(UTC)
    await pool.execute(
        """
        INSERT INTO incidents (id, fingerprint, status, severity, title, root_service, root_operation,
                               root_kind, started_at, opened_at, updated_at)
        VALUES ($1, $2, 'open', 'high', $3, $4, $5, $6, $7, $7, $7)
        """,
        incident_id,
        f"{service}|{operation}|{kind}|{incident_id}",
        f"{service} {operation}: {kind}",
        service,
        operation,
        kind.value,
        now,
    )
    return incident_id


async def insert_event(pool: asyncpg.Pool, incident_id: UUID, event: EventType, actor: str = "system") -> int:
    event_id: int = await pool.fetchval(
        "INSERT INTO incident_events (incident_id, at, type, actor, detail) VALUES ($1, $2, $3, $4, $5) "
        "RETURNING id",
        incident_id,
        datetime.now(UTC),
        event.value,
        actor,
        json.dumps({"note": f"{event} by {actor}"}),
    )
    return event_id


# --- the Redis channel, read the way a subscriber reads it -----------------------------------


class ChannelReader:
    def __init__(self, pubsub: PubSub, redis: Redis, channel: str) -> None:
        self._pubsub = pubsub
        self._redis = redis
        self._channel = channel

    async def until_marker(self, timeout_s: float = 10.0) -> list[IncidentNotification]:
        """Every notification published so far: a marker published now arrives after all of
        them (one connection, in order), so "nothing more" needs no waiting on a guess."""
        marker = f"marker-{uuid4()}"
        await self._redis.publish(self._channel, marker)
        received: list[IncidentNotification] = []
        async with asyncio.timeout(timeout_s):
            while True:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None:
                    continue
                if message["data"] == marker.encode():
                    return received
                received.append(IncidentNotification.model_validate_json(message["data"]))


@pytest.fixture
async def channel(redis_client: Redis, redis_prefix: str) -> AsyncIterator[ChannelReader]:
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(f"{redis_prefix}incidents")
    yield ChannelReader(pubsub, redis_client, f"{redis_prefix}incidents")
    await pubsub.unsubscribe()
    await pubsub.aclose()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> NotificationMetrics:
    return NotificationMetrics(registry)


def count(registry: CollectorRegistry, channel: str, outcome: str) -> float:
    value = registry.get_sample_value("aiops_notifications_total", {"channel": channel, "outcome": outcome})
    assert value is not None
    return value


def settings_for(redis_prefix: str, urls: Sequence[str] = (), **overrides: Any) -> IncidentSettings:
    return IncidentSettings(redis_key_prefix=redis_prefix, webhook_urls=list(urls), **overrides)


def outbox_for(
    pool: asyncpg.Pool,
    redis: Redis,
    settings: IncidentSettings,
    metrics: NotificationMetrics,
    *,
    batch_size: int = 100,
) -> NotificationOutbox:
    return NotificationOutbox(pool, redis, settings, metrics, batch_size=batch_size)


async def deliveries(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            "SELECT id, event_id, url, payload::text AS payload, status, attempts, last_error, delivered_at "
            "FROM webhook_deliveries ORDER BY event_id, url"
        )
    )


async def unnotified(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM incident_events WHERE notified_at IS NULL"))


# --- the outbox ------------------------------------------------------------------------------


async def test_every_event_reaches_the_channel_and_paging_ones_get_a_delivery_per_url(
    pool: asyncpg.Pool,
    redis_client: Redis,
    redis_prefix: str,
    channel: ChannelReader,
    registry: CollectorRegistry,
    metrics: NotificationMetrics,
) -> None:
    urls = ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]
    outbox = outbox_for(pool, redis_client, settings_for(redis_prefix, urls), metrics)
    incident = await insert_incident(pool)
    opened = await insert_event(pool, incident, EventType.OPENED)
    comment = await insert_event(pool, incident, EventType.COMMENT, actor="ops")
    severity = await insert_event(pool, incident, EventType.SEVERITY_CHANGED)

    assert await outbox.run_once() == 3

    published = await channel.until_marker()
    assert [n.event.id for n in published] == [opened, comment, severity]
    assert [n.event.type for n in published] == [
        EventType.OPENED,
        EventType.COMMENT,
        EventType.SEVERITY_CHANGED,
    ]
    assert all(n.incident.id == incident and n.delivery_id is None and not n.silenced for n in published)
    assert published[1].event.actor == "ops"
    assert published[1].event.detail == {"note": "comment by ops"}

    rows = await deliveries(pool)
    assert [(r["event_id"], r["url"]) for r in rows] == [
        (opened, urls[0]),
        (opened, urls[1]),
        (severity, urls[0]),
        (severity, urls[1]),
    ]
    for row in rows:
        payload = IncidentNotification.model_validate_json(row["payload"])
        assert payload.delivery_id == row["id"]
        assert payload.event.id == row["event_id"]
        assert row["status"] == "pending"
        assert row["attempts"] == 0
    assert await unnotified(pool) == 0
    assert count(registry, "redis", "published") == 3

    assert await outbox.run_once() == 0
    assert await channel.until_marker() == []
    assert len(await deliveries(pool)) == 4


async def test_two_outboxes_at_once_send_each_event_once(
    pool: asyncpg.Pool,
    redis_client: Redis,
    redis_prefix: str,
    channel: ChannelReader,
    registry: CollectorRegistry,
    metrics: NotificationMetrics,
) -> None:
    settings = settings_for(redis_prefix, ["http://127.0.0.1:9/hook"])
    replicas = [outbox_for(pool, redis_client, settings, metrics, batch_size=7) for _ in range(2)]
    event_ids, paging = [], 0
    for _ in range(4):
        incident = await insert_incident(pool)
        for kind in (EventType.OPENED, EventType.ANOMALY_JOINED, EventType.COMMENT, EventType.RESOLVED) * 3:
            event_ids.append(await insert_event(pool, incident, kind))
            paging += kind in (EventType.OPENED, EventType.RESOLVED)
    runs: list[int] = []

    async def replica(outbox: NotificationOutbox) -> None:
        while (n := await outbox.run_once()) > 0:
            runs.append(n)

    await asyncio.gather(*(replica(outbox) for outbox in replicas))

    published = await channel.until_marker()
    assert sorted(n.event.id for n in published) == sorted(event_ids)  # each once, none lost
    assert sum(runs) == len(event_ids)
    assert len(await deliveries(pool)) == paging
    assert await unnotified(pool) == 0


async def test_a_silence_matching_the_root_cause_holds_back_the_webhook_only(
    pool: asyncpg.Pool,
    redis_client: Redis,
    redis_prefix: str,
    channel: ChannelReader,
    registry: CollectorRegistry,
    metrics: NotificationMetrics,
) -> None:
    outbox = outbox_for(pool, redis_client, settings_for(redis_prefix, ["http://127.0.0.1:9/hook"]), metrics)
    now = datetime.now(UTC)
    silences = SilenceRepository(pool)
    await silences.create(
        SilenceIn(service="payment", kind=AnomalyKind.ERROR_RATIO, ends_at=now + timedelta(hours=1)),
        created_by="ops",
        now=now,
    )
    # Neither of these silences anything: one was deleted, one is for later.
    deleted = await silences.create(
        SilenceIn(service="inventory", ends_at=now + timedelta(hours=1)), created_by="ops", now=now
    )
    assert await silences.delete(deleted.id, now=now)
    await silences.create(
        SilenceIn(service="inventory", starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2)),
        created_by="ops",
        now=now,
    )
    # Matches the service but not the operation of the third incident.
    await silences.create(
        SilenceIn(service="frontend", operation="GET /", ends_at=now + timedelta(hours=1)),
        created_by="ops",
        now=now,
    )
    silenced = await insert_incident(pool, service="payment", operation="POST /payment")
    inventory = await insert_incident(pool, service="inventory", operation="GET /stock")
    frontend = await insert_incident(pool, service="frontend", operation="POST /checkout")
    silenced_event = await insert_event(pool, silenced, EventType.OPENED)
    inventory_event = await insert_event(pool, inventory, EventType.OPENED)
    frontend_event = await insert_event(pool, frontend, EventType.OPENED)

    assert await outbox.run_once() == 3

    published = {n.event.id: n for n in await channel.until_marker()}
    assert published[silenced_event].silenced is True
    assert published[inventory_event].silenced is False
    assert published[frontend_event].silenced is False
    assert [r["event_id"] for r in await deliveries(pool)] == [inventory_event, frontend_event]
    assert count(registry, "webhook", "silenced") == 1


async def test_with_redis_away_nothing_is_marked_notified(
    pool: asyncpg.Pool,
    redis_client: Redis,
    redis_prefix: str,
    channel: ChannelReader,
    registry: CollectorRegistry,
    metrics: NotificationMetrics,
) -> None:
    settings = settings_for(redis_prefix, ["http://127.0.0.1:9/hook"])
    nowhere = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    incident = await insert_incident(pool)
    opened = await insert_event(pool, incident, EventType.OPENED)
    try:
        assert await outbox_for(pool, nowhere, settings, metrics).run_once() == 0
    finally:
        await nowhere.aclose()
    assert await unnotified(pool) == 1
    assert await deliveries(pool) == []

    assert await outbox_for(pool, redis_client, settings, metrics).run_once() == 1
    assert [n.event.id for n in await channel.until_marker()] == [opened]
    assert len(await deliveries(pool)) == 1


# --- webhooks --------------------------------------------------------------------------------


class Receiver:
    """A webhook receiver that answers with the given statuses in turn (the last one from then
    on) and records every request."""

    def __init__(self, *statuses: int, delay_s: float = 0.0) -> None:
        self.statuses = list(statuses)
        self.delay_s = delay_s
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])

    async def _hook(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        await asyncio.sleep(self.delay_s)
        return Response(status_code=status)


async def open_one_incident(
    pool: asyncpg.Pool, redis: Redis, settings: IncidentSettings, metrics: NotificationMetrics
) -> int:
    event_id = await insert_event(pool, await insert_incident(pool), EventType.OPENED)
    assert await outbox_for(pool, redis, settings, metrics).run_once() == 1
    return event_id


async def dispatch_until(
    pool: asyncpg.Pool, dispatcher: WebhookDispatcher, status: str, timeout_s: float = 20.0
) -> asyncpg.Record:
    async def step() -> asyncpg.Record:
        await dispatcher.run_once()
        [row] = await deliveries(pool)
        return row

    return await eventually(
        step, lambda row: row["status"] == status, timeout_s=timeout_s, what=f"delivery {status}"
    )


@pytest.fixture
async def memory_bus() -> AsyncIterator[InMemoryBus]:
    bus = InMemoryBus()
    await bus.start()
    yield bus
    await bus.close()


def dispatcher_for(
    pool: asyncpg.Pool, bus: Bus, settings: IncidentSettings, metrics: NotificationMetrics
) -> WebhookDispatcher:
    return WebhookDispatcher(pool, bus, settings, metrics)


async def test_a_webhook_is_delivered_once_with_its_delivery_id(
    pool: asyncpg.Pool,
    redis_client: Redis,
    redis_prefix: str,
    registry: CollectorRegistry,
    metrics: NotificationMetrics,
    memory_bus: InMemoryBus,
) -> None:
    receiver = Receiver(204)
    async with serving(receiver.app) as server:
        settings = settings_for(redis_prefix, [f"{server.url}/hook"])
        event_id = await open_one_incident(pool, redis_client, settings, metrics)
        dispatcher = dispatcher_for(pool, memory_bus, settings, metrics)
        await dispatcher.start()
        try:
            assert await dispatcher.run_once() == 1
            assert await dispatcher.run_once() == 0
        finally:
            await dispatcher.stop()

    [row] = await deliveries(pool)
    assert row["status"] == "delivered"
    assert row["attempts"] == 1
    assert row["delivered_at"] is not None
    [(headers, body)] = receiver.requests
    assert headers["content-type"] == "application/json"
    assert headers["x-aiops-delivery-id"] == str(row["id"])
    assert headers["x-aiops-event"] == "opened"
    notification = IncidentNotification.model_validate_json(body)
    assert notification.delivery_id == row["id"]
    assert notification.event.id == event_id
    assert list(json.loads(body)) == ["delivery_id", "event", "incident", "silenced"]  # the documented order
    assert count(registry, "webhook", "delivered") == 1


async def test_a_failing_receiver_is_retried_with_the_same_delivery_id(
    pool: asyncpg.Pool,
    redis_client: Redis,
    redis_prefix: str,
    registry: CollectorRegistry,
    metrics: NotificationMetrics,
    memory_bus: InMemoryBus,
) -> None:
    receiver = Receiver(500, 500, 200)
    async with serving(receiver.app) as server:
        settings = settings_for(redis_prefix, [f"{server.url}/hook"], webhook_backoff_s=0.05)
        await open_one_incident(pool, redis_client, settings, metrics)
        dispatcher = dispatcher_for(pool, memory_bus, settings, metrics)
        await dispatcher.start()
        try:
            row = await dispatch_until(pool, dispatcher, "delivered")
        finally:
            await dispatcher.stop()

    assert row["attempts"] == 3
    assert len(receiver.requests) == 3
    assert {headers["x-aiops-delivery-id"] for headers, _ in receiver.requests} == {str(row["id"])}
    assert count(registry, "webhook", "failed") == 2
    assert count(registry, "webhook", "delivered") == 1


async def test_a_delivery_that_never_gets_through_goes_to_the_dead_letter_queue(
    pool: asyncpg.Pool,
    redis_client: Redis,
    redis_prefix: str,
    registry: CollectorRegistry,
    metrics: NotificationMetrics,
    bus: RabbitBus,
    broker_url: str,
) -> None:
    receiver = Receiver(500)
    async with serving(receiver.app) as server:
        settings = settings_for(
            redis_prefix, [f"{server.url}/hook"], webhook_max_attempts=3, webhook_backoff_s=0.02
        )
        await open_one_incident(pool, redis_client, settings, metrics)
        dispatcher = dispatcher_for(pool, bus, settings, metrics)
        await dispatcher.start()
        try:
            row = await dispatch_until(pool, dispatcher, "dead")
            assert await dispatcher.run_once() == 0
        finally:
            await dispatcher.stop()

    assert row["attempts"] == 3
    assert row["last_error"] == "HTTP 500"
    assert len(receiver.requests) == 3
    await eventually(lambda: depth(broker_url, WEBHOOK_DEAD_LETTERS.dead_letter_queue), lambda n: n == 1)
    [dead] = await drain(broker_url, WEBHOOK_DEAD_LETTERS.dead_letter_queue)
    assert dead.message_id == str(row["id"])
    assert IncidentNotification.model_validate_json(dead.body).delivery_id == row["id"]
    reason = str((dead.headers or {})[DEAD_LETTER_REASON_HEADER])
    assert "failed 3 times" in reason
    assert "HTTP 500" in reason
    assert "127.0.0.1" in reason
    assert count(registry, "webhook", "failed") == 2
    assert count(registry, "webhook", "dead") == 1


async def test_unreachable_and_slow_receivers_fail_and_the_in_process_bus_keeps_the_dead_letter(
    pool: asyncpg.Pool,
    redis_client: Redis,
    redis_prefix: str,
    registry: CollectorRegistry,
    metrics: NotificationMetrics,
    memory_bus: InMemoryBus,
) -> None:
    slow = Receiver(200, delay_s=5.0)
    async with serving(slow.app, graceful_timeout_s=1) as server:
        urls = [f"http://127.0.0.1:{free_port()}/hook", f"{server.url}/hook"]
        settings = settings_for(redis_prefix, urls, webhook_max_attempts=1, webhook_timeout_s=0.5)
        await open_one_incident(pool, redis_client, settings, metrics)
        dispatcher = dispatcher_for(pool, memory_bus, settings, metrics)
        await dispatcher.start()
        try:
            assert await dispatcher.run_once() == 2
        finally:
            await dispatcher.stop()

    rows = {row["url"]: row for row in await deliveries(pool)}
    assert rows[urls[0]]["status"] == "dead"
    assert rows[urls[0]]["last_error"].startswith("ConnectError")
    assert rows[urls[1]]["status"] == "dead"
    assert rows[urls[1]]["last_error"] == "no answer within 0.5 s"
    dead = memory_bus.dead_letters(WEBHOOK_DEAD_LETTERS.name)
    assert {m.message_id for m in dead} == {str(r["id"]) for r in rows.values()}
    assert await memory_bus.queue_depth(WEBHOOK_DEAD_LETTERS.dead_letter_queue) == 2


async def test_with_the_bus_away_a_spent_delivery_waits_for_it_without_more_attempts(
    pool: asyncpg.Pool, redis_client: Redis, redis_prefix: str, metrics: NotificationMetrics
) -> None:
    receiver = Receiver(500)
    bus = InMemoryBus()  # not started: refuses every publish, as a broker that is away
    async with serving(receiver.app) as server:
        settings = settings_for(
            redis_prefix, [f"{server.url}/hook"], webhook_max_attempts=1, webhook_backoff_s=0.02
        )
        await open_one_incident(pool, redis_client, settings, metrics)
        dispatcher = dispatcher_for(pool, bus, settings, metrics)
        await dispatcher.start()
        try:
            assert await dispatcher.run_once() == 1
            [row] = await deliveries(pool)
            assert row["status"] == "pending"
            assert row["attempts"] == 1

            await bus.start()
            row = await dispatch_until(pool, dispatcher, "dead")
        finally:
            await dispatcher.stop()
            await bus.close()

    assert len(receiver.requests) == 1
    assert [m.message_id for m in bus.dead_letters(WEBHOOK_DEAD_LETTERS.name)] == [str(row["id"])]
