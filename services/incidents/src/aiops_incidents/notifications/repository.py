"""The SQL of the notification outbox (`incident_events.notified_at`) and of the webhook
deliveries. Every claim is `FOR UPDATE SKIP LOCKED`, so any number of replicas share the work
without sending anything twice."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from asyncpg import Record

from aiops_core.store.repository import Repository
from aiops_incidents.schemas import EventType, TimelineEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UnnotifiedEvent:
    id: int
    incident_id: UUID
    event: TimelineEvent | None  # None: a row no notification can be made of (logged)


@dataclass(frozen=True)
class NewDelivery:
    id: UUID
    event_id: int
    url: str
    payload: str  # IncidentNotification JSON, with `delivery_id` = `id`


@dataclass(frozen=True)
class DueDelivery:
    id: UUID
    url: str
    payload: str
    event_type: str
    attempts: int
    last_error: str | None


class OutboxRepository(Repository):
    """Timeline events waiting to be fanned out, and the deliveries they make."""

    async def claim_unnotified_events(self, limit: int) -> list[UnnotifiedEvent]:
        """The oldest events not yet fanned out, locked until the caller's transaction ends."""
        rows = await self.db.fetch(
            """
            SELECT id, incident_id, at, type, actor, detail::text AS detail
            FROM incident_events
            WHERE notified_at IS NULL
            ORDER BY id
            LIMIT $1
            FOR UPDATE SKIP LOCKED
            """,
            limit,
        )
        return [UnnotifiedEvent(row["id"], row["incident_id"], _timeline_event(row)) for row in rows]

    async def mark_notified(self, event_ids: Sequence[int], now: datetime) -> None:
        await self.db.execute(
            "UPDATE incident_events SET notified_at = $2 WHERE id = ANY($1::bigint[])", list(event_ids), now
        )

    async def insert_deliveries(self, deliveries: Sequence[NewDelivery], now: datetime) -> None:
        # The payload goes in as text and is cast in SQL, whatever jsonb codec the pool may have.
        await self.db.executemany(
            """
            INSERT INTO webhook_deliveries (id, event_id, url, payload, next_attempt_at)
            VALUES ($1, $2, $3, $4::text::jsonb, $5)
            ON CONFLICT (event_id, url) DO NOTHING
            """,
            [(d.id, d.event_id, d.url, d.payload, now) for d in deliveries],
        )


class DeliveryRepository(Repository):
    """Webhook deliveries: claimed when due, then delivered, retried later or dead."""

    async def claim_due_deliveries(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[DueDelivery]:
        """Pending deliveries that are due, leased until `lease_until`: their next attempt moves
        there, so no other replica takes them while this one posts (no transaction stays open
        during the HTTP call), and a replica that dies mid-post only delays them."""
        rows = await self.db.fetch(
            """
            UPDATE webhook_deliveries d
            SET next_attempt_at = $2
            FROM (
                SELECT id FROM webhook_deliveries
                WHERE status = 'pending' AND next_attempt_at <= $1
                ORDER BY next_attempt_at
                LIMIT $3
                FOR UPDATE SKIP LOCKED
            ) due
            WHERE d.id = due.id
            RETURNING d.id, d.url, d.payload::text AS payload, d.payload -> 'event' ->> 'type' AS event_type,
                      d.attempts, d.last_error
            """,
            now,
            lease_until,
            limit,
        )
        return [
            DueDelivery(
                id=row["id"],
                url=row["url"],
                payload=row["payload"],
                event_type=row["event_type"] or "",
                attempts=row["attempts"],
                last_error=row["last_error"],
            )
            for row in rows
        ]

    async def mark_delivered(self, delivery_id: UUID, now: datetime) -> None:
        await self.db.execute(
            """
            UPDATE webhook_deliveries
            SET status = 'delivered', attempts = attempts + 1, delivered_at = $2, last_error = NULL
            WHERE id = $1 AND status = 'pending'
            """,
            delivery_id,
            now,
        )

    async def record_failure(
        self, delivery_id: UUID, *, attempts: int, error: str, next_attempt_at: datetime
    ) -> None:
        await self.db.execute(
            """
            UPDATE webhook_deliveries SET attempts = $2, last_error = $3, next_attempt_at = $4
            WHERE id = $1 AND status = 'pending'
            """,
            delivery_id,
            attempts,
            error,
            next_attempt_at,
        )

    async def mark_dead(self, delivery_id: UUID) -> None:
        await self.db.execute(
            "UPDATE webhook_deliveries SET status = 'dead' WHERE id = $1 AND status = 'pending'", delivery_id
        )


def _timeline_event(row: Record) -> TimelineEvent | None:
    try:
        return TimelineEvent(
            id=row["id"],
            at=row["at"],
            type=EventType(row["type"]),
            actor=row["actor"],
            detail=json.loads(row["detail"]),
        )
    except ValueError as exc:
        # Skipped rather than retried: one unreadable row must not hold back every later event.
        log.error("incident event cannot be notified", extra={"event_id": row["id"], "error": str(exc)})
        return None
