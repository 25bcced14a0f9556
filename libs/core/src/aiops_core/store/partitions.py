"""Time partitions of `spans` on plain PostgreSQL, and the TimescaleDB policies that replace
them when the extension is there.

On plain PostgreSQL there is one partition a day, named `spans_pYYYYMMDD`, holding
[day 00:00 UTC, next day 00:00 UTC). They are created ahead of time by the maintenance job and
on demand by the writer, and dropped once wholly older than the retention age.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from aiops_core.store.pool import Connection

# Serialises partition DDL between writers and maintenance jobs of every replica.
PARTITION_LOCK_KEY = 7_420_002

_PARTITION_NAME = re.compile(r"^spans_p(\d{8})$")


def partition_name(day: date) -> str:
    return f"spans_p{day:%Y%m%d}"


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _bound(day: date) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()


async def existing_partitions(conn: Connection) -> set[date]:
    rows = await conn.fetch(
        """
        SELECT child.relname AS name
        FROM pg_inherits
        JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
        JOIN pg_class child ON child.oid = pg_inherits.inhrelid
        WHERE parent.relname = 'spans'
        """
    )
    days = set()
    for row in rows:
        match = _PARTITION_NAME.match(row["name"])
        if match:
            days.add(datetime.strptime(match[1], "%Y%m%d").date())
    return days


async def ensure_partitions(conn: Connection, days: set[date]) -> list[date]:
    """Create the partitions of `days` that do not exist yet; return the days created."""
    created: list[date] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", PARTITION_LOCK_KEY)
        missing = sorted(days - await existing_partitions(conn))
        for day in missing:
            await conn.execute(
                f"CREATE TABLE {partition_name(day)} PARTITION OF spans "
                f"FOR VALUES FROM ('{_bound(day)}') TO ('{_bound(day + timedelta(days=1))}')"
            )
            created.append(day)
    return created


async def drop_partitions_before(conn: Connection, cutoff: date) -> list[date]:
    """Drop every partition whose whole day is before `cutoff`; return the days dropped."""
    dropped: list[date] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", PARTITION_LOCK_KEY)
        for day in sorted(await existing_partitions(conn)):
            if day < cutoff:
                await conn.execute(f"DROP TABLE {partition_name(day)}")
                dropped.append(day)
    return dropped


async def apply_timescale_policies(
    conn: Connection, *, retention: timedelta, compress_after: timedelta
) -> None:
    """Make the hypertable's retention and compression policies match the settings."""
    async with conn.transaction():
        await conn.execute("SELECT remove_retention_policy('spans', if_exists => true)")
        await conn.execute("SELECT add_retention_policy('spans', drop_after => $1::interval)", retention)
        await conn.execute("SELECT remove_compression_policy('spans', if_exists => true)")
        await conn.execute(
            "SELECT add_compression_policy('spans', compress_after => $1::interval)", compress_after
        )
