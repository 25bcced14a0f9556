"""SQL over the per-minute rollups the detector writes to `series_rollups`."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import asyncpg

from aiops_incidents.series.bands import MinuteRollup


class SeriesRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def known(self, service: str) -> bool:
        """Whether any series of the service was ever rolled up (and is still kept)."""
        async with self.pool.acquire() as conn:
            return bool(
                await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM series_rollups WHERE service = $1)", service
                )
            )

    async def rollups(self, service: str, since: datetime, until: datetime) -> dict[str, list[MinuteRollup]]:
        """The service's rollups of the minutes from `since` to `until`, by operation, oldest first."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
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
