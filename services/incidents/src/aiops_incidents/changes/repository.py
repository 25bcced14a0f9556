"""The SQL of changes: posted ones, and those the detector's rollup records from the spans."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from uuid import uuid4

from asyncpg import Record

from aiops_core.store.repository import Repository
from aiops_incidents.schemas import Change, ChangeIn

_COLUMNS = (
    "id, service, kind, at, summary, old_version, new_version, source, attributes::text AS attributes, "
    "recorded_at"
)


class ChangeRepository(Repository):
    async def create(self, change: ChangeIn, *, now: datetime) -> Change:
        row = await self.db.fetchrow(
            f"""
            INSERT INTO changes (id, service, kind, at, summary, old_version, new_version, source,
                                 attributes, recorded_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, 'api', $8, $9)
            RETURNING {_COLUMNS}
            """,
            uuid4(),
            change.service,
            change.kind.value,
            change.at or now,
            change.summary,
            change.old_version,
            change.new_version,
            json.dumps(change.attributes),
            now,
        )
        assert row is not None
        return _change(row)

    async def between(
        self, since: datetime, until: datetime, *, services: Sequence[str] | None = None, limit: int = 500
    ) -> list[Change]:
        """Changes that happened in [since, until] (to `services` alone, when given), latest first."""
        rows = await self.db.fetch(
            f"""
            SELECT {_COLUMNS} FROM changes
            WHERE at >= $1 AND at <= $2 AND ($3::text[] IS NULL OR service = ANY($3::text[]))
            ORDER BY at DESC, id LIMIT $4
            """,
            since,
            until,
            list(services) if services is not None else None,
            limit,
        )
        return [_change(row) for row in rows]


def _change(row: Record) -> Change:
    return Change(**{**dict(row), "attributes": json.loads(row["attributes"])})
