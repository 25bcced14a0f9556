"""Deploys seen in the spans: a service whose spans carry a `service.version` it has not sent
before, or one back after `RETURN_GAP` without it while another version was sent (a rollback),
records a change of kind `deploy` from the version it sent last, with no integration needed.

Run by the rollup job, in its transaction and under its lock, over the spans it rolls up: one
replica at a time, and a range read again (the minute in progress) finds nothing new twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiops_core.store.pool import Connection

RETURN_GAP = timedelta(minutes=5)

_SEEN = """
SELECT service, attributes->>'service.version' AS version, min(start_time) AS first, max(start_time) AS last
FROM spans
WHERE start_time >= $1 AND start_time < $2 AND attributes ? 'service.version'
GROUP BY 1, 2
ORDER BY first
"""


@dataclass
class _Known:
    first_seen: datetime
    last_seen: datetime


async def record_new_versions(conn: Connection, start: datetime, until: datetime) -> int:
    """Record the versions the spans started in [start, until) carry; return how many changes
    that made."""
    seen = await conn.fetch(_SEEN, start, until)
    if not seen:
        return 0
    services = sorted({row["service"] for row in seen})
    known: dict[str, dict[str, _Known]] = {service: {} for service in services}
    for row in await conn.fetch(
        "SELECT service, version, first_seen, last_seen FROM service_versions "
        "WHERE service = ANY($1::text[])",
        services,
    ):
        known[row["service"]][row["version"]] = _Known(row["first_seen"], row["last_seen"])
    changes = 0
    for row in seen:
        service, version, first, last = row["service"], row["version"], row["first"], row["last"]
        versions = known[service]
        previous = _latest_other(versions, version)
        mine = versions.get(version)
        if previous is not None and (mine is None or _returns(mine, previous, first)):
            await conn.execute(
                """
                INSERT INTO changes (id, service, kind, at, summary, old_version, new_version, source)
                VALUES ($1, $2, 'deploy', $3, $4, $5, $6, 'spans')
                """,
                uuid.uuid4(),
                service,
                first,
                f"{service} {previous[0]} → {version}",
                previous[0],
                version,
            )
            changes += 1
        if mine is None:
            versions[version] = _Known(first, last)
        else:
            mine.last_seen = max(mine.last_seen, last)
        await conn.execute(
            """
            INSERT INTO service_versions (service, version, first_seen, last_seen) VALUES ($1, $2, $3, $4)
            ON CONFLICT (service, version) DO UPDATE
            SET last_seen = greatest(service_versions.last_seen, excluded.last_seen)
            """,
            service,
            version,
            first,
            last,
        )
    return changes


def _latest_other(versions: dict[str, _Known], version: str) -> tuple[str, _Known] | None:
    """The other version the service sent last."""
    others = [(name, one) for name, one in versions.items() if name != version]
    return max(others, key=lambda item: item[1].last_seen) if others else None


def _returns(mine: _Known, previous: tuple[str, _Known], first: datetime) -> bool:
    """A known version back after a gap, while another was sent after it: a rollback."""
    return first - mine.last_seen >= RETURN_GAP and previous[1].last_seen > mine.last_seen
