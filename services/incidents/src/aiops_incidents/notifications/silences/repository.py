"""The SQL of silences."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID, uuid4

from asyncpg import Record

from aiops_core.errors import ConflictError
from aiops_core.models import AnomalyKind
from aiops_core.store.repository import Repository
from aiops_incidents.schemas import Silence, SilenceIn

_COLUMNS = "id, service, operation, kind, starts_at, ends_at, created_by, comment, created_at"


class SilenceRepository(Repository):
    async def create(self, silence: SilenceIn, *, created_by: str, now: datetime) -> Silence:
        starts_at = silence.starts_at or now
        if silence.ends_at <= max(starts_at, now):
            # Well formed, but at odds with the time it arrives at (no schema can say "after
            # now"): a conflict with the present, not a malformed request.
            raise ConflictError(
                "the silence would never be in force: ends_at must be after starts_at and after now",
                details=[{"field": "body.ends_at", "message": "must be after starts_at and after now"}],
            )
        row = await self.db.fetchrow(
            f"""
            INSERT INTO silences
                (id, service, operation, kind, starts_at, ends_at, created_by, comment, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            RETURNING {_COLUMNS}
            """,
            uuid4(),
            silence.service,
            silence.operation,
            silence.kind.value if silence.kind else None,
            starts_at,
            silence.ends_at,
            created_by,
            silence.comment,
            now,
        )
        assert row is not None
        return _silence(row)

    async def list(self, *, now: datetime, include_expired: bool) -> list[Silence]:
        """Silences in force or still to come, soonest to end first; with `include_expired`,
        also the ones that have ended. Deleted ones never."""
        rows = await self.db.fetch(
            f"""
            SELECT {_COLUMNS} FROM silences
            WHERE deleted_at IS NULL AND ($2 OR ends_at > $1)
            ORDER BY ends_at, id
            """,
            now,
            include_expired,
        )
        return [_silence(row) for row in rows]

    async def delete(self, silence_id: UUID, *, now: datetime) -> bool:
        """Expire a silence at once; False when there is none (or it was deleted already). The
        row stays, so that what was silenced when can still be told."""
        deleted = await self.db.fetchval(
            "UPDATE silences SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING id",
            silence_id,
            now,
        )
        return deleted is not None

    async def silenced_incidents(self, incident_ids: Sequence[UUID], *, now: datetime) -> set[UUID]:
        """Which of the incidents a silence in force at `now` matches, by their root cause."""
        rows = await self.db.fetch(
            """
            SELECT i.id FROM incidents i
            WHERE i.id = ANY($1::uuid[]) AND EXISTS (
                SELECT 1 FROM silences s
                WHERE s.deleted_at IS NULL AND s.starts_at <= $2 AND s.ends_at > $2
                  AND (s.service IS NULL OR s.service = i.root_service)
                  AND (s.operation IS NULL OR s.operation = i.root_operation)
                  AND (s.kind IS NULL OR s.kind = i.root_kind)
            )
            """,
            list(incident_ids),
            now,
        )
        return {row["id"] for row in rows}


def _silence(row: Record) -> Silence:
    return Silence(
        id=row["id"],
        service=row["service"],
        operation=row["operation"],
        kind=AnomalyKind(row["kind"]) if row["kind"] else None,
        starts_at=_aware(row["starts_at"]),
        ends_at=_aware(row["ends_at"]),
        created_by=row["created_by"],
        comment=row["comment"],
        created_at=row["created_at"],
    )


def _aware(value: datetime) -> datetime:
    # asyncpg reads PostgreSQL's -infinity and infinity (what the ends of the calendar become,
    # see aiops_core.validation) as datetime.min and datetime.max without a time zone.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
