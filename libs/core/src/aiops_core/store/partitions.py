"""Time partitions of the telemetry tables on plain PostgreSQL, and the TimescaleDB policies that
replace them when the extension is there.

Each table in `TELEMETRY_TABLES` is range-partitioned by its time column on plain PostgreSQL:
one partition a day, named `<table>_pYYYYMMDD`, holding [day 00:00 UTC, next day 00:00 UTC).
They are created ahead of time by the maintenance job and on demand by the writer, and dropped
once wholly older than the table's retention age. On TimescaleDB the same tables are hypertables.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from aiops_core.store.pool import Connection

# Serialises partition DDL between writers and maintenance jobs of every replica.
PARTITION_LOCK_KEY = 7_420_002

SPANS = "spans"
METRIC_POINTS = "metric_points"
LOG_RECORDS = "log_records"
# The tables partitioned (or made hypertables) by time. Names are interpolated into DDL, so only
# these are accepted.
TELEMETRY_TABLES = (SPANS, METRIC_POINTS, LOG_RECORDS)


def _checked(table: str) -> str:
    if table not in TELEMETRY_TABLES:
        raise ValueError(f"{table!r} is not a time-partitioned table")
    return table


def partition_name(table: str, day: date) -> str:
    return f"{_checked(table)}_p{day:%Y%m%d}"


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _bound(day: date) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()


async def existing_partitions(conn: Connection, table: str) -> set[date]:
    rows = await conn.fetch(
        """
        SELECT child.relname AS name
        FROM pg_inherits
        JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
        JOIN pg_class child ON child.oid = pg_inherits.inhrelid
        WHERE parent.relname = $1
        """,
        _checked(table),
    )
    named = re.compile(rf"^{table}_p(\d{{8}})$")
    days = set()
    for row in rows:
        match = named.match(row["name"])
        if match:
            days.add(datetime.strptime(match[1], "%Y%m%d").date())
    return days


async def ensure_partitions(conn: Connection, table: str, days: set[date]) -> list[date]:
    """Create the partitions of `table` for `days` that do not exist yet; return the days created."""
    created: list[date] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", PARTITION_LOCK_KEY)
        missing = sorted(days - await existing_partitions(conn, table))
        for day in missing:
            await conn.execute(
                f"CREATE TABLE {partition_name(table, day)} PARTITION OF {table} "
                f"FOR VALUES FROM ('{_bound(day)}') TO ('{_bound(day + timedelta(days=1))}')"
            )
            created.append(day)
    return created


async def drop_partitions_before(conn: Connection, table: str, cutoff: date) -> list[date]:
    """Drop every partition of `table` whose whole day is before `cutoff`; return the days dropped."""
    dropped: list[date] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", PARTITION_LOCK_KEY)
        for day in sorted(await existing_partitions(conn, table)):
            if day < cutoff:
                await conn.execute(f"DROP TABLE {partition_name(table, day)}")
                dropped.append(day)
    return dropped


async def apply_timescale_policies(
    conn: Connection, table: str, *, retention: timedelta, compress_after: timedelta
) -> None:
    """Make the hypertable's retention and compression policies match the settings."""
    _checked(table)
    async with conn.transaction():
        await conn.execute("SELECT remove_retention_policy($1, if_exists => true)", table)
        await conn.execute("SELECT add_retention_policy($1, drop_after => $2::interval)", table, retention)
        await conn.execute("SELECT remove_compression_policy($1, if_exists => true)", table)
        await conn.execute(
            "SELECT add_compression_policy($1, compress_after => $2::interval)", table, compress_after
        )
