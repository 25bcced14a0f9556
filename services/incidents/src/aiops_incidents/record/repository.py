"""SQL of the record: incidents opened and resolved per period, in one query."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiops_core.store.repository import Repository
from aiops_incidents.record.schemas import RecordPeriod

# Periods are laid on a grid that starts at a UTC midnight, so days start at UTC midnight and
# hours on the hour. The step is an interval of seconds, never '1 day': adding a day to a
# timestamptz follows the session's time zone across daylight saving changes.
_RECORD_SQL = """
WITH grid AS (
    SELECT make_interval(secs => $1::float8) AS step,
           date_bin(make_interval(secs => $1::float8), $3::timestamptz,
                    TIMESTAMPTZ '2000-01-01 00:00:00+00') AS current
),
bounds AS (
    SELECT step, current - step * ($2::int - 1) AS first, current + step AS stop FROM grid
),
periods AS (
    SELECT generate_series(first, stop - step, step) AS start FROM bounds
),
opened AS (
    SELECT date_bin(b.step, i.opened_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS start,
           count(*) AS n, avg(extract(epoch FROM i.opened_at - i.started_at))::float8 AS mean_s
    FROM incidents i, bounds b
    WHERE i.opened_at >= b.first AND i.opened_at < b.stop
    GROUP BY 1
),
resolved AS (
    SELECT date_bin(b.step, i.resolved_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS start,
           count(*) AS n, avg(extract(epoch FROM i.resolved_at - i.started_at))::float8 AS mean_s
    FROM incidents i, bounds b
    WHERE i.resolved_at >= b.first AND i.resolved_at < b.stop
    GROUP BY 1
)
SELECT p.start, coalesce(o.n, 0) AS opened, o.mean_s AS mttd_s,
       coalesce(r.n, 0) AS resolved, r.mean_s AS mttr_s
FROM periods p
LEFT JOIN opened o USING (start)
LEFT JOIN resolved r USING (start)
ORDER BY p.start
"""


class RecordRepository(Repository):
    async def record(self, step: timedelta, periods: int, now: datetime) -> list[RecordPeriod]:
        """The `periods` periods of length `step` up to the one `now` is in, oldest first."""
        rows = await self.db.fetch(_RECORD_SQL, step.total_seconds(), periods, now)
        return [
            RecordPeriod(
                start=row["start"],
                opened=row["opened"],
                resolved=row["resolved"],
                mttd_s=row["mttd_s"],
                mttr_s=row["mttr_s"],
            )
            for row in rows
        ]
