"""The SQL of the service metrics API: a service's metric series, their latest points and their
minutes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiops_core.store.repository import Repository


class MetricRepository(Repository):
    async def series_of(self, service: str, limit: int) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            """
            SELECT series_id, name, kind, monotonic, temporality, unit, description, instance,
                   attributes::text AS attributes, first_seen, last_seen
            FROM metric_series WHERE service = $1
            ORDER BY name, instance NULLS FIRST, attributes::text
            LIMIT $2
            """,
            service,
            limit,
        )
        return [dict(row) for row in rows]

    async def last_points(self, series_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Each series' latest point, found through its index rather than a scan."""
        rows = await self.db.fetch(
            """
            SELECT s.series_id, p.time, p.value, p.count, p.sum,
                   extract(epoch FROM p.time - p.start_time) AS covered_s
            FROM unnest($1::bigint[]) AS s(series_id)
            CROSS JOIN LATERAL (
                SELECT time, start_time, value, count, sum FROM metric_points
                WHERE series_id = s.series_id ORDER BY time DESC LIMIT 1
            ) AS p
            """,
            series_ids,
        )
        return {row["series_id"]: dict(row) for row in rows}

    async def minutes(self, series_ids: list[int], since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Per series and minute: the mean value, and the totals of the deltas with the seconds
        they cover (a point without a start time is taken to cover nothing)."""
        rows = await self.db.fetch(
            """
            SELECT series_id, date_bin('1 minute', time, TIMESTAMPTZ '2000-01-01') AS minute,
                   avg(value) AS mean_value, sum(value) AS total_value, sum(count) AS total_count,
                   sum(sum) AS total_sum,
                   sum(coalesce(extract(epoch FROM time - start_time), 0)) AS covered_s
            FROM metric_points
            WHERE series_id = ANY($1::bigint[]) AND time >= $2 AND time < $3
            GROUP BY 1, 2 ORDER BY 1, 2
            """,
            series_ids,
            since,
            until,
        )
        return [dict(row) for row in rows]
