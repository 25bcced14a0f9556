"""SQL of incidents, their member anomalies and timeline, and of the service graph."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from aiops_core.models import Anomaly, AnomalyEvidence, AnomalyKind
from aiops_core.pagination import Cursor, KeysetQuery
from aiops_core.peers import NodeKind
from aiops_core.store.repository import Repository
from aiops_incidents.correlation import ActiveIncident, Member, RootKey
from aiops_incidents.schemas import (
    EventType,
    Impact,
    IncidentDetail,
    IncidentStatus,
    IncidentSummary,
    RootCauseCandidate,
    ServiceEdge,
    Severity,
    TimelineEvent,
)

# Every change to incidents by the domain (correlation, ranking, auto-resolve) holds this
# transaction-scoped advisory lock, so replicas take turns instead of racing; it is arbitrary
# and fixed, like the migration lock.
INCIDENTS_LOCK_KEY = 7_420_005
# A peer whose calls a server span answers more often than this is instrumented, not inferred.
ANSWERED_AT_MOST = 0.1

_SUMMARY_SQL = """
SELECT i.*, coalesce(m.services, '{}') AS services, coalesce(m.anomaly_count, 0) AS anomaly_count
FROM incidents i
LEFT JOIN LATERAL (
    SELECT array_agg(DISTINCT a.service ORDER BY a.service) AS services, count(*) AS anomaly_count
    FROM incident_anomalies a WHERE a.incident_id = i.id
) m ON true
"""

_STATE_COLUMNS = (
    "id, status, severity, fingerprint, started_at, resolved_at, root_service, root_operation, root_kind, "
    "root_instance, impact"
)
_ANOMALY_COLUMNS = (
    "anomaly_id, service, operation, kind, score, started_at, detected_at, cleared_at, window_s, "
    "observed, baseline, evidence"
)


@dataclass(frozen=True)
class IncidentFilters:
    status: IncidentStatus | None = None
    severity: Severity | None = None
    service: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class IncidentState:
    id: UUID
    status: IncidentStatus
    severity: Severity
    fingerprint: str
    started_at: datetime
    resolved_at: datetime | None
    root: RootKey | None
    impact: Impact


class IncidentRepository(Repository):
    # --- what the domain changes, inside its transactions -------------------------------------

    async def lock(self) -> None:
        await self.db.execute("SELECT pg_advisory_xact_lock($1)", INCIDENTS_LOCK_KEY)

    async def try_lock(self) -> bool:
        return bool(await self.db.fetchval("SELECT pg_try_advisory_xact_lock($1)", INCIDENTS_LOCK_KEY))

    async def incident_of_anomaly(self, anomaly_id: UUID) -> UUID | None:
        found: UUID | None = await self.db.fetchval(
            "SELECT incident_id FROM incident_anomalies WHERE anomaly_id = $1", anomaly_id
        )
        return found

    async def active(self) -> list[ActiveIncident]:
        rows = await self.db.fetch(
            """
            SELECT i.id, i.opened_at, i.root_service, a.service, a.started_at, a.cleared_at
            FROM incidents i JOIN incident_anomalies a ON a.incident_id = i.id
            WHERE i.status <> 'resolved'
            ORDER BY i.id
            """
        )
        members: dict[UUID, list[Member]] = defaultdict(list)
        for row in rows:
            members[row["id"]].append(Member(row["service"], row["started_at"], row["cleared_at"]))
        incidents = {row["id"]: row for row in rows}
        return [
            ActiveIncident(key, incidents[key]["opened_at"], incidents[key]["root_service"], tuple(of_one))
            for key, of_one in members.items()
        ]

    async def state(self, incident_id: UUID, *, for_update: bool = False) -> IncidentState | None:
        row = await self.db.fetchrow(
            f"SELECT {_STATE_COLUMNS} FROM incidents WHERE id = $1" + (" FOR UPDATE" if for_update else ""),
            incident_id,
        )
        return _state(row) if row else None

    async def by_fingerprint(self, fingerprint: str) -> IncidentState | None:
        """The unresolved incident with this fingerprint, else the one resolved last."""
        row = await self.db.fetchrow(
            f"""
            SELECT {_STATE_COLUMNS} FROM incidents WHERE fingerprint = $1
            ORDER BY status = 'resolved', resolved_at DESC NULLS FIRST LIMIT 1
            """,
            fingerprint,
        )
        return _state(row) if row else None

    async def create(self, *, fingerprint: str, title: str, started_at: datetime, now: datetime) -> UUID:
        incident_id = uuid4()
        await self.db.execute(
            """
            INSERT INTO incidents
                (id, fingerprint, status, severity, title, started_at, opened_at, updated_at)
            VALUES ($1, $2, 'open', 'low', $3, $4, $5, $5)
            """,
            incident_id,
            fingerprint,
            title,
            started_at,
            now,
        )
        return incident_id

    async def reopen(self, incident_id: UUID, now: datetime) -> None:
        await self.db.execute(
            """
            UPDATE incidents SET status = 'open', resolved_at = NULL, resolved_by = NULL,
                   acknowledged_at = NULL, acknowledged_by = NULL,
                   reopened_count = reopened_count + 1, updated_at = $2
            WHERE id = $1
            """,
            incident_id,
            now,
        )

    async def add_member(self, incident_id: UUID, anomaly: Anomaly, now: datetime) -> None:
        await self.db.execute(
            f"""
            INSERT INTO incident_anomalies (incident_id, joined_at, {_ANOMALY_COLUMNS})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
            ON CONFLICT (anomaly_id) DO NOTHING
            """,
            incident_id,
            now,
            anomaly.id,
            anomaly.service,
            anomaly.operation,
            anomaly.kind.value,
            anomaly.score,
            anomaly.started_at,
            anomaly.detected_at,
            anomaly.cleared_at,
            anomaly.window_s,
            json.dumps(anomaly.observed),
            json.dumps(anomaly.baseline),
            anomaly.evidence.model_dump_json(),
        )
        await self.db.execute(
            "UPDATE incidents SET started_at = least(started_at, $2), updated_at = $3 WHERE id = $1",
            incident_id,
            anomaly.started_at,
            now,
        )

    async def clear_member(self, anomaly_id: UUID, cleared_at: datetime) -> UUID | None:
        """Mark a member anomaly cleared; its incident's id, or None if it was cleared already."""
        found: UUID | None = await self.db.fetchval(
            "UPDATE incident_anomalies SET cleared_at = $2 WHERE anomaly_id = $1 AND cleared_at IS NULL "
            "RETURNING incident_id",
            anomaly_id,
            cleared_at,
        )
        return found

    async def members(self, incident_id: UUID) -> list[Anomaly]:
        rows = await self.db.fetch(
            f"SELECT {_ANOMALY_COLUMNS} FROM incident_anomalies WHERE incident_id = $1 ORDER BY detected_at",
            incident_id,
        )
        return [_anomaly(row) for row in rows]

    async def assess(
        self,
        incident_id: UUID,
        *,
        candidates: Sequence[RootCauseCandidate],
        impact: Impact,
        severity: Severity,
        title: str,
        now: datetime,
    ) -> None:
        top = candidates[0] if candidates else None
        await self.db.execute(
            """
            UPDATE incidents SET candidates = $2, impact = $3, severity = $4, title = $5,
                   root_service = $6, root_operation = $7, root_kind = $8, root_instance = $10,
                   ranked_at = $9, updated_at = $9
            WHERE id = $1
            """,
            incident_id,
            json.dumps([c.model_dump(mode="json") for c in candidates]),
            impact.model_dump_json(),
            severity.value,
            title,
            top.service if top else None,
            top.operation if top else None,
            top.kind.value if top else None,
            now,
            top.instance if top else None,
        )

    async def set_fingerprint(self, incident_id: UUID, fingerprint: str) -> bool:
        """Follow the root cause, unless another unresolved incident already has that fingerprint."""
        taken = await self.db.fetchval(
            "SELECT true FROM incidents WHERE fingerprint = $1 AND status <> 'resolved' AND id <> $2",
            fingerprint,
            incident_id,
        )
        if taken:
            return False
        await self.db.execute("UPDATE incidents SET fingerprint = $2 WHERE id = $1", incident_id, fingerprint)
        return True

    async def set_status(self, incident_id: UUID, status: IncidentStatus, actor: str, now: datetime) -> None:
        if status is IncidentStatus.ACKNOWLEDGED:
            columns = "acknowledged_at = $3, acknowledged_by = $4"
        else:
            columns = "resolved_at = $3, resolved_by = $4"
        await self.db.execute(
            f"UPDATE incidents SET status = $2, {columns}, updated_at = $3 WHERE id = $1",
            incident_id,
            status.value,
            now,
            actor,
        )

    async def add_event(
        self,
        incident_id: UUID,
        event: EventType,
        actor: str,
        now: datetime,
        detail: dict[str, Any] | None = None,
    ) -> int:
        event_id: int = await self.db.fetchval(
            "INSERT INTO incident_events (incident_id, at, type, actor, detail) VALUES ($1, $2, $3, $4, $5) "
            "RETURNING id",
            incident_id,
            now,
            event.value,
            actor,
            json.dumps(detail or {}),
        )
        return event_id

    async def unresolved_with_open(self, service: str, operation: str, kind: str) -> list[UUID]:
        """Unresolved incidents with an open member anomaly of this series and kind."""
        rows = await self.db.fetch(
            """
            SELECT DISTINCT i.id FROM incidents i JOIN incident_anomalies a ON a.incident_id = i.id
            WHERE i.status <> 'resolved' AND a.cleared_at IS NULL
              AND a.service = $1 AND a.operation = $2 AND a.kind = $3
            ORDER BY i.id
            """,
            service,
            operation,
            kind,
        )
        return [r["id"] for r in rows]

    async def unresolved(self) -> list[UUID]:
        return [r["id"] for r in await self.db.fetch("SELECT id FROM incidents WHERE status <> 'resolved'")]

    async def clearing(self) -> dict[UUID, list[datetime | None]]:
        """Each unresolved incident's members' cleared_at."""
        rows = await self.db.fetch(
            """
            SELECT i.id, array_agg(a.cleared_at) AS cleared
            FROM incidents i JOIN incident_anomalies a ON a.incident_id = i.id
            WHERE i.status <> 'resolved' GROUP BY i.id
            """
        )
        return {r["id"]: list(r["cleared"]) for r in rows}

    # --- what the API reads ------------------------------------------------------------------

    async def summaries(self, ids: Sequence[UUID]) -> dict[UUID, IncidentSummary]:
        rows = await self.db.fetch(_SUMMARY_SQL + " WHERE i.id = ANY($1)", list(ids))
        return {row["id"]: _summary(row) for row in rows}

    async def page(self, filters: IncidentFilters, after: Cursor | None, limit: int) -> list[IncidentSummary]:
        query = KeysetQuery()
        if filters.status is not None:
            query.where(f"i.status = {query.arg(filters.status.value)}")
        if filters.severity is not None:
            query.where(f"i.severity = {query.arg(filters.severity.value)}")
        if filters.service is not None:
            query.where(
                "EXISTS (SELECT 1 FROM incident_anomalies s WHERE s.incident_id = i.id "
                f"AND s.service = {query.arg(filters.service)})"
            )
        if filters.since is not None:
            query.where(f"i.opened_at >= {query.arg(filters.since)}")
        if filters.until is not None:
            query.where(f"i.opened_at < {query.arg(filters.until)}")
        sql = f"{_SUMMARY_SQL} {query.page('i.opened_at', 'i.id', after, limit)}"
        return [_summary(row) for row in await self.db.fetch(sql, *query.args)]

    async def detail(self, incident_id: UUID) -> IncidentDetail | None:
        row = await self.db.fetchrow(_SUMMARY_SQL + " WHERE i.id = $1", incident_id)
        if row is None:
            return None
        events = await self.db.fetch(
            "SELECT id, at, type, actor, detail FROM incident_events WHERE incident_id = $1 ORDER BY id",
            incident_id,
        )
        members = await self.members(incident_id)
        return IncidentDetail(
            **_summary(row).model_dump(),
            candidates=[RootCauseCandidate.model_validate(c) for c in json.loads(row["candidates"])],
            impact=Impact.model_validate_json(row["impact"]),
            timeline=[_event(e) for e in events],
            anomalies=members,
        )

    async def anomalies(
        self,
        *,
        service: str | None,
        is_open: bool | None,
        since: datetime | None,
        after: Cursor | None,
        limit: int,
    ) -> list[Anomaly]:
        query = KeysetQuery()
        if service is not None:
            query.where(f"service = {query.arg(service)}")
        if is_open is not None:
            query.where("cleared_at IS NULL" if is_open else "cleared_at IS NOT NULL")
        if since is not None:
            query.where(f"detected_at >= {query.arg(since)}")
        sql = (
            f"SELECT {_ANOMALY_COLUMNS} FROM incident_anomalies "
            f"{query.page('detected_at', 'anomaly_id', after, limit)}"
        )
        return [_anomaly(row) for row in await self.db.fetch(sql, *query.args)]

    async def anomalies_in_force(self, service: str, since: datetime, until: datetime) -> list[Anomaly]:
        """The service's anomalies in force at some time from `since` to `until`, by start."""
        rows = await self.db.fetch(
            f"""
            SELECT {_ANOMALY_COLUMNS} FROM incident_anomalies
            WHERE service = $1 AND started_at <= $3 AND (cleared_at IS NULL OR cleared_at >= $2)
            ORDER BY started_at, anomaly_id
            """,
            service,
            since,
            until,
        )
        return [_anomaly(row) for row in rows]

    async def open_anomaly_kinds(self) -> dict[str, list[AnomalyKind]]:
        rows = await self.db.fetch("SELECT service, kind FROM incident_anomalies WHERE cleared_at IS NULL")
        found: dict[str, list[AnomalyKind]] = {}
        for row in rows:
            found.setdefault(row["service"], []).append(AnomalyKind(row["kind"]))
        return found

    async def active_by_severity(self) -> dict[Severity, int]:
        rows = await self.db.fetch(
            "SELECT severity, count(*) AS n FROM incidents WHERE status <> 'resolved' GROUP BY severity"
        )
        counts = dict.fromkeys(Severity, 0)
        counts.update({Severity(r["severity"]): int(r["n"]) for r in rows})
        return counts


class GraphRepository(Repository):
    """The service graph, counted over a recent window of stored spans: calls from a client (or
    producer) span in one service to its child server (or consumer) span in another, and calls to
    inferred peers — a client span's peer (aiops_core.peers) that no server span answers."""

    async def refresh(self, since: datetime, until: datetime, *, forget_before: datetime) -> int:
        window_s = (until - since).total_seconds()
        async with self.transaction() as conn:
            served = await conn.fetch(
                """
                INSERT INTO service_edges (source, target, target_kind, calls, errors, window_s, last_seen)
                SELECT c.service, s.service, 'service', count(*), count(*) FILTER (WHERE s.is_error), $3,
                       max(s.start_time)
                FROM spans s
                JOIN spans c ON c.trace_id = s.trace_id AND c.span_id = s.parent_span_id
                WHERE s.start_time >= $1 AND s.start_time < $2
                  AND c.start_time >= $1::timestamptz - interval '1 minute' AND c.start_time < $2
                  AND s.kind IN ('server', 'consumer') AND c.kind IN ('client', 'producer')
                  AND c.service <> s.service
                GROUP BY c.service, s.service
                ON CONFLICT (source, target) DO UPDATE
                SET target_kind = excluded.target_kind, calls = excluded.calls, errors = excluded.errors,
                    window_s = excluded.window_s, last_seen = excluded.last_seen
                RETURNING source, target
                """,
                since,
                until,
                window_s,
            )
            calls = await conn.fetch(
                """
                SELECT service, peer, peer_kind, count(*) AS calls,
                       count(*) FILTER (WHERE is_error) AS errors, max(start_time) AS last_seen,
                       count(*) FILTER (WHERE EXISTS (
                           SELECT 1 FROM spans s
                           WHERE s.trace_id = c.trace_id AND s.parent_span_id = c.span_id
                             AND s.kind IN ('server', 'consumer') AND s.start_time >= $1 AND s.start_time < $2
                       )) AS answered
                FROM spans c
                WHERE c.peer IS NOT NULL AND c.start_time >= $1 AND c.start_time < $2
                  AND c.kind IN ('client', 'producer')
                GROUP BY service, peer, peer_kind
                """,
                since,
                until,
            )
            # A peer is inferred when almost none of the calls to it are answered by a server span
            # (the few that are may be calls whose server span has not arrived yet); a peer that
            # answers is a service, and its edge comes from the server spans above.
            inferred = [r for r in calls if r["answered"] <= ANSWERED_AT_MOST * r["calls"]]
            await conn.executemany(
                """
                INSERT INTO service_edges (source, target, target_kind, calls, errors, window_s, last_seen)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (source, target) DO UPDATE
                SET target_kind = excluded.target_kind, calls = excluded.calls, errors = excluded.errors,
                    window_s = excluded.window_s, last_seen = excluded.last_seen
                """,
                [
                    (
                        r["service"],
                        r["peer"],
                        r["peer_kind"],
                        r["calls"],
                        r["errors"],
                        window_s,
                        r["last_seen"],
                    )
                    for r in inferred
                ],
            )
            answered = [r for r in calls if r["answered"] > ANSWERED_AT_MOST * r["calls"]]
            await conn.execute(
                """
                DELETE FROM service_edges e USING unnest($1::text[], $2::text[]) AS a(source, target)
                WHERE e.source = a.source AND e.target = a.target AND e.target_kind <> 'service'
                """,
                [r["service"] for r in answered],
                [r["peer"] for r in answered],
            )
            # An edge not seen in this window has no calls now; it is kept (with its last_seen)
            # until it has not been seen for a long time.
            await conn.execute(
                "UPDATE service_edges SET calls = 0, errors = 0, window_s = $1 WHERE last_seen < $2",
                window_s,
                since,
            )
            await conn.execute("DELETE FROM service_edges WHERE last_seen < $1", forget_before)
        return len(served) + len(inferred)

    async def edges(self) -> list[ServiceEdge]:
        rows = await self.db.fetch("SELECT * FROM service_edges ORDER BY source, target")
        return [
            ServiceEdge(
                source=r["source"],
                target=r["target"],
                target_kind=NodeKind(r["target_kind"]),
                calls_per_s=r["calls"] / r["window_s"] if r["window_s"] else 0.0,
                error_ratio=r["errors"] / r["calls"] if r["calls"] else 0.0,
                last_seen=r["last_seen"],
            )
            for r in rows
        ]


def _state(row: asyncpg.Record) -> IncidentState:
    root = (
        RootKey(row["root_service"], row["root_operation"], row["root_kind"], row["root_instance"])
        if row["root_service"]
        else None
    )
    return IncidentState(
        id=row["id"],
        status=IncidentStatus(row["status"]),
        severity=Severity(row["severity"]),
        fingerprint=row["fingerprint"],
        started_at=row["started_at"],
        resolved_at=row["resolved_at"],
        root=root,
        impact=Impact.model_validate_json(row["impact"]),
    )


def _summary(row: asyncpg.Record) -> IncidentSummary:
    candidates = json.loads(row["candidates"])
    return IncidentSummary(
        id=row["id"],
        status=IncidentStatus(row["status"]),
        severity=Severity(row["severity"]),
        title=row["title"],
        fingerprint=row["fingerprint"],
        root_cause=RootCauseCandidate.model_validate(candidates[0]) if candidates else None,
        services=list(row["services"]),
        anomaly_count=row["anomaly_count"],
        started_at=row["started_at"],
        opened_at=row["opened_at"],
        acknowledged_at=row["acknowledged_at"],
        resolved_at=row["resolved_at"],
        reopened_count=row["reopened_count"],
        updated_at=row["updated_at"],
    )


def _anomaly(row: asyncpg.Record) -> Anomaly:
    return Anomaly(
        id=row["anomaly_id"],
        service=row["service"],
        operation=row["operation"],
        kind=AnomalyKind(row["kind"]),
        score=row["score"],
        started_at=row["started_at"],
        detected_at=row["detected_at"],
        cleared_at=row["cleared_at"],
        window_s=row["window_s"],
        observed=json.loads(row["observed"]),
        baseline=json.loads(row["baseline"]),
        evidence=AnomalyEvidence.model_validate_json(row["evidence"]),
    )


def _event(row: asyncpg.Record) -> TimelineEvent:
    return TimelineEvent(
        id=row["id"],
        at=row["at"],
        type=EventType(row["type"]),
        actor=row["actor"],
        detail=json.loads(row["detail"]),
    )
