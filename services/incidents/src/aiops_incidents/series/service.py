"""A service's series over a recent period: each operation's minutes with their baseline bands,
the anomalies found on it, and its learning state."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta

import asyncpg

from aiops_core.errors import NotFoundError
from aiops_core.healthy_time import Measure, Period, Trouble, spoiled_by_measure
from aiops_core.models import Anomaly
from aiops_incidents.repository import IncidentRepository
from aiops_incidents.series.bands import HISTORY, Band, MinuteRollup, with_bands
from aiops_incidents.series.repository import SeriesRepository
from aiops_incidents.series.schemas import BaselineBand, OperationSeries, SeriesPoint, ServiceSeries

MINUTE = timedelta(minutes=1)

Banded = dict[str, list[tuple[MinuteRollup, Band | None]]]


class SeriesReader:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.rollups = SeriesRepository(pool)
        self.incidents = IncidentRepository(pool)

    async def of_service(self, service: str, *, minutes: int, now: datetime) -> ServiceSeries:
        """The last `minutes` minutes (the one in progress included) of the service's series."""
        if not await self.rollups.known(service):
            raise NotFoundError(f"the platform has no series of a service {service!r}")
        since = now.replace(second=0, microsecond=0) - (minutes - 1) * MINUTE
        # The hour before the period as well: the first minutes' bands are learned from it.
        rollups = await self.rollups.rollups(service, since - HISTORY, now)
        # Those of the hour before as well: the bands leave their minutes out.
        anomalies = await self.incidents.anomalies_in_force(service, since - HISTORY, now)
        learning = await self.rollups.learning(now, service=service)
        by_operation: dict[str, list[Anomaly]] = defaultdict(list)
        for anomaly in anomalies:
            by_operation[anomaly.operation].append(anomaly)
        spoiled = {op: _spoiled(by_operation.get(op, []), now) for op in rollups}
        # Off the event loop: a day of minutes with an hour of history each, per operation.
        banded = await asyncio.to_thread(_with_bands, rollups, since, spoiled)
        in_period = {
            op: [a for a in found if a.cleared_at is None or a.cleared_at >= since]
            for op, found in by_operation.items()
        }
        operations = sorted(
            {op for op, points in banded.items() if points} | {op for op, found in in_period.items() if found}
        )
        return ServiceSeries(
            service=service,
            since=since,
            until=now,
            series=[
                OperationSeries(
                    operation=operation,
                    points=[_point(row, band) for row, band in banded.get(operation, [])],
                    anomalies=in_period.get(operation, []),
                    learning=learning.get((service, operation)),
                )
                for operation in operations
            ],
        )


def _spoiled(anomalies: list[Anomaly], now: datetime) -> dict[Measure, list[Period]]:
    return spoiled_by_measure((Trouble(a.kind, a.started_at, a.cleared_at) for a in anomalies), now)


def _with_bands(
    rollups: Mapping[str, list[MinuteRollup]],
    since: datetime,
    spoiled: Mapping[str, Mapping[Measure, list[Period]]],
) -> Banded:
    return {operation: with_bands(rows, since, spoiled[operation]) for operation, rows in rollups.items()}


def _point(row: MinuteRollup, band: Band | None) -> SeriesPoint:
    return SeriesPoint(
        minute=row.minute,
        requests_per_s=row.requests_per_s,
        error_ratio=row.error_ratio,
        p95_ms=row.p95_ms,
        baseline=None
        if band is None
        else BaselineBand(
            requests_per_s=band.requests_per_s, error_ratio=band.error_ratio, p95_ms=band.p95_ms
        ),
    )
