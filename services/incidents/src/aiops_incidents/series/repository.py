"""SQL over the per-minute rollups the detector writes to `series_rollups`."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from uuid import uuid4

from aiops_core.store.repository import Repository
from aiops_incidents.series.bands import MinuteRollup
from aiops_incidents.series.learning import learning_of
from aiops_incidents.series.schemas import Learning


class SeriesRepository(Repository):
    async def known(self, service: str) -> bool:
        """Whether any series of the service was ever rolled up (and is still kept)."""
        return bool(
            await self.db.fetchval("SELECT EXISTS (SELECT 1 FROM series_rollups WHERE service = $1)", service)
        )

    async def series_known(self, service: str, operation: str) -> bool:
        return bool(
            await self.db.fetchval(
                "SELECT EXISTS (SELECT 1 FROM series_rollups WHERE service = $1 AND operation = $2)",
                service,
                operation,
            )
        )

    async def learning(
        self, now: datetime, *, service: str | None = None, since: datetime | None = None
    ) -> dict[tuple[str, str], Learning]:
        """Each series' learning state (of one service, or of those learned since `since`)."""
        rows = await self.db.fetch(
            """
            SELECT service, operation, measured_at, history_s, min_history_s FROM series_learning
            WHERE ($1::text IS NULL OR service = $1) AND ($2::timestamptz IS NULL OR measured_at >= $2)
            """,
            service,
            since,
        )
        return {
            (r["service"], r["operation"]): learning_of(
                json.loads(r["history_s"]), r["min_history_s"], r["measured_at"], now
            )
            for r in rows
        }

    async def accept(
        self,
        *,
        service: str,
        operation: str,
        kind: str,
        at: datetime,
        by: str,
        comment: str | None,
    ) -> None:
        await self.db.execute(
            """
            INSERT INTO baseline_acceptances (id, service, operation, kind, accepted_at, accepted_by, comment)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """,
            uuid4(),
            service,
            operation,
            kind,
            at,
            by,
            comment or "",
        )

    async def rollups(self, service: str, since: datetime, until: datetime) -> dict[str, list[MinuteRollup]]:
        """The service's rollups of the minutes from `since` to `until`, by operation, oldest first."""
        rows = await self.db.fetch(
            """
            SELECT operation, minute, requests, errors, p95_ms, covered_until
            FROM series_rollups WHERE service = $1 AND minute >= $2 AND minute <= $3
            ORDER BY operation, minute
            """,
            service,
            since,
            until,
        )
        by_operation: dict[str, list[MinuteRollup]] = defaultdict(list)
        for row in rows:
            by_operation[row["operation"]].append(
                MinuteRollup(
                    minute=row["minute"],
                    requests=row["requests"],
                    errors=row["errors"],
                    p95_ms=row["p95_ms"],
                    covered_until=row["covered_until"],
                )
            )
        return dict(by_operation)
