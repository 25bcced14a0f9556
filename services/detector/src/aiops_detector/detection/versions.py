"""Deploys seen in the spans, with no integration needed: a service whose spans carry a
`service.version` it has not sent before, or one back after `RETURN_GAP` without it while another
was sent (a rollback), records a change of kind `deploy` from the version it sent last; the same
of its `deployment.environment` (or `deployment.environment.name`) records a change of kind
`config` ("payment deployment.environment staging → production").

Run by the rollup job, in its transaction and under its lock, over the spans it rolls up (one pass
for both attributes): one replica at a time, and a range read again (the minute in progress)
finds nothing new twice.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from asyncpg import Record

from aiops_core.store.pool import Connection

RETURN_GAP = timedelta(minutes=5)
VERSION = "service.version"
ENVIRONMENT = "deployment.environment"

# One pass over the spans, grouped by both attributes; split per attribute below.
_SEEN = f"""
SELECT service, attributes->>'{VERSION}' AS version,
       coalesce(attributes->>'{ENVIRONMENT}.name', attributes->>'{ENVIRONMENT}') AS environment,
       min(start_time) AS first, max(start_time) AS last
FROM spans
WHERE start_time >= $1 AND start_time < $2
  AND (attributes ? '{VERSION}' OR attributes ? '{ENVIRONMENT}.name' OR attributes ? '{ENVIRONMENT}')
GROUP BY 1, 2, 3
"""


@dataclass(frozen=True)
class _Seen:
    service: str
    attribute: str
    value: str
    first: datetime
    last: datetime


_COLUMN_OF = {VERSION: "version", ENVIRONMENT: "environment"}


def _per_attribute(rows: list[Record]) -> list[_Seen]:
    """Each (service, attribute, value) with when it was first and last seen, by first seen."""
    periods: dict[tuple[str, str, str], tuple[datetime, datetime]] = {}
    for row in rows:
        for attribute, column in _COLUMN_OF.items():
            if row[column] is None:
                continue
            key = (row["service"], attribute, row[column])
            first, last = periods.get(key, (row["first"], row["last"]))
            periods[key] = (min(first, row["first"]), max(last, row["last"]))
    seen = [_Seen(*key, first, last) for key, (first, last) in periods.items()]
    return sorted(seen, key=lambda one: one.first)


@dataclass
class _Known:
    first_seen: datetime
    last_seen: datetime


async def record_new_versions(conn: Connection, start: datetime, until: datetime) -> int:
    """Record the versions and environments the spans started in [start, until) carry; return
    how many changes that made."""
    seen = _per_attribute(await conn.fetch(_SEEN, start, until))
    if not seen:
        return 0
    services = sorted({one.service for one in seen})
    known: dict[tuple[str, str], dict[str, _Known]] = {}
    for row in await conn.fetch(
        "SELECT service, attribute, value, first_seen, last_seen FROM service_versions "
        "WHERE service = ANY($1::text[])",
        services,
    ):
        known.setdefault((row["service"], row["attribute"]), {})[row["value"]] = _Known(
            row["first_seen"], row["last_seen"]
        )
    changes = 0
    for one in seen:
        service, attribute, value, first, last = one.service, one.attribute, one.value, one.first, one.last
        values = known.setdefault((service, attribute), {})
        previous = _latest_other(values, value)
        mine = values.get(value)
        if previous is not None and (mine is None or _returns(mine, previous, first)):
            await _record_change(conn, service, attribute, previous[0], value, first)
            changes += 1
        if mine is None:
            values[value] = _Known(first, last)
        else:
            mine.last_seen = max(mine.last_seen, last)
        await conn.execute(
            """
            INSERT INTO service_versions (service, attribute, value, first_seen, last_seen)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (service, attribute, value) DO UPDATE
            SET last_seen = greatest(service_versions.last_seen, excluded.last_seen)
            """,
            service,
            attribute,
            value,
            first,
            last,
        )
    return changes


async def _record_change(
    conn: Connection, service: str, attribute: str, old: str, new: str, at: datetime
) -> None:
    deploy = attribute == VERSION
    await conn.execute(
        """
        INSERT INTO changes (id, service, kind, at, summary, old_version, new_version, source, attributes)
        VALUES ($1, $2, $3, $4, $5, $6, $7, 'spans', $8)
        """,
        uuid.uuid4(),
        service,
        "deploy" if deploy else "config",
        at,
        f"{service} {old} → {new}" if deploy else f"{service} {attribute} {old} → {new}",
        old if deploy else None,
        new if deploy else None,
        json.dumps({} if deploy else {attribute: new}),
    )


def _latest_other(values: dict[str, _Known], value: str) -> tuple[str, _Known] | None:
    """The other value the service sent last."""
    others = [(name, one) for name, one in values.items() if name != value]
    return max(others, key=lambda item: item[1].last_seen) if others else None


def _returns(mine: _Known, previous: tuple[str, _Known], first: datetime) -> bool:
    """A known value back after a gap, while another was sent after it: a rollback."""
    return first - mine.last_seen >= RETURN_GAP and previous[1].last_seen > mine.last_seen
