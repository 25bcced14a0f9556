"""The notification outbox: the domain writes each timeline event in the transaction that changes
the incident, and this fans new events out — to the Redis channel (every event) and into webhook
deliveries (paging events, unless silenced) — in one transaction that also marks them notified.
A crash anywhere in between loses nothing: the events stay un-notified and the next run takes
them again."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import uuid4

import asyncpg
from redis.exceptions import RedisError

from aiops_core.cache import Cache
from aiops_core.store.pool import Connection
from aiops_incidents.clock import Clock, utc_now
from aiops_incidents.notifications.channel import NotificationChannel
from aiops_incidents.notifications.metrics import NotificationMetrics
from aiops_incidents.notifications.repository import NewDelivery, OutboxRepository
from aiops_incidents.notifications.silences.repository import SilenceRepository
from aiops_incidents.repository import IncidentRepository
from aiops_incidents.schemas import WEBHOOK_EVENTS, IncidentNotification
from aiops_incidents.settings import IncidentSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _FanOut:
    events: int
    silenced_deliveries: int


class NotificationOutbox:
    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: Cache,
        settings: IncidentSettings,
        metrics: NotificationMetrics,
        *,
        batch_size: int = 100,
        clock: Clock = utc_now,
    ) -> None:
        self._pool = pool
        self._channel = NotificationChannel.of(redis, settings.redis_key_prefix)
        # One delivery per URL and event (the table says so too): a URL listed twice counts once.
        self._webhook_urls = tuple(dict.fromkeys(settings.webhook_urls))
        self._metrics = metrics
        self._batch_size = batch_size
        self._clock = clock

    async def run_once(self) -> int:
        """Fan out up to `batch_size` events, oldest first; how many were fanned out. With Redis
        away nothing is marked notified (0): the same events go out on a later run."""
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                done = await self._fan_out(conn)
        except RedisError as exc:
            log.warning("cannot publish incident notifications; will retry", extra={"error": str(exc)})
            return 0
        self._metrics.count("webhook", "silenced", done.silenced_deliveries)
        return done.events

    async def _fan_out(self, conn: Connection) -> _FanOut:
        outbox = OutboxRepository(conn)
        claimed = await outbox.claim_unnotified_events(self._batch_size)
        if not claimed:
            return _FanOut(0, 0)
        now = self._clock()
        incident_ids = list({c.incident_id for c in claimed})
        summaries = await IncidentRepository(conn).summaries(incident_ids)
        silenced = await SilenceRepository(conn).silenced_incidents(incident_ids, now=now)

        notifications: list[IncidentNotification] = []
        deliveries: list[NewDelivery] = []
        silenced_deliveries = 0
        for item in claimed:
            summary = summaries.get(item.incident_id)
            if item.event is None or summary is None:
                if summary is None:
                    log.error("no summary for the incident of an event", extra={"event_id": item.id})
                continue
            notification = IncidentNotification(
                event=item.event, incident=summary, silenced=item.incident_id in silenced
            )
            notifications.append(notification)
            if item.event.type not in WEBHOOK_EVENTS or not self._webhook_urls:
                continue
            if notification.silenced:
                silenced_deliveries += len(self._webhook_urls)
                continue
            for url in self._webhook_urls:
                delivery_id = uuid4()
                payload = notification.model_copy(update={"delivery_id": delivery_id}).model_dump_json()
                deliveries.append(NewDelivery(delivery_id, item.id, url, payload))

        # Published before the commit: if the commit then fails, the events go out again on the
        # next run. The channel is at-least-once (and so is the stream); subscribers that care
        # drop repeats by the event id.
        if notifications:
            # One at a time, in order: Redis Cluster's client pipelines no PUBLISH.
            for notification in notifications:
                await self._channel.redis.publish(self._channel.name, notification.model_dump_json())
            self._metrics.count("redis", "published", len(notifications))
        await outbox.insert_deliveries(deliveries, now)
        await outbox.mark_notified([c.id for c in claimed], now)
        return _FanOut(len(claimed), silenced_deliveries)
