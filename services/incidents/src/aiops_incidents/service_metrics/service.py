"""A service's metric series as the API shows them: stored deltas read back as rates, gauges and
levels as they were read."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from aiops_core.store.repository import Database
from aiops_incidents.service_metrics.repository import MetricRepository
from aiops_incidents.service_metrics.schemas import (
    LastValue,
    Measure,
    MetricPoint,
    MetricSeries,
    ServiceMetrics,
)


def measure_of(series: dict[str, Any]) -> Measure:
    """Stored deltas (counters, histograms, summaries, delta sums) are read as per-second rates;
    gauges and cumulative levels as values."""
    return "per_second" if series["temporality"] == "delta" else "value"


def _per_second(total: float | None, covered_s: float | None) -> float | None:
    if total is None or not covered_s:
        return None
    return float(total) / float(covered_s)


def _mean(total_sum: float | None, count: float | None) -> float | None:
    return float(total_sum) / float(count) if total_sum is not None and count else None


def _point(series: dict[str, Any], row: dict[str, Any]) -> MetricPoint:
    if measure_of(series) == "value":
        return MetricPoint(minute=row["minute"], value=row["mean_value"])
    counted = row["total_value"] if row["total_value"] is not None else row["total_count"]
    return MetricPoint(
        minute=row["minute"],
        value=_per_second(counted, row["covered_s"]),
        mean=_mean(row["total_sum"], row["total_count"]),
    )


def _last(series: dict[str, Any], row: dict[str, Any] | None) -> LastValue | None:
    if row is None:
        return None
    if measure_of(series) == "value":
        return LastValue(time=row["time"], value=row["value"])
    counted = row["value"] if row["value"] is not None else row["count"]
    return LastValue(
        time=row["time"], value=_per_second(counted, row["covered_s"]), mean=_mean(row["sum"], row["count"])
    )


class MetricReader:
    def __init__(self, db: Database) -> None:
        self._repository = MetricRepository(db)

    async def of_service(self, service: str, *, minutes: int, limit: int, now: datetime) -> ServiceMetrics:
        since = now - timedelta(minutes=minutes)
        found = await self._repository.series_of(service, limit + 1)
        shown = found[:limit]
        ids = [series["series_id"] for series in shown]
        last = await self._repository.last_points(ids) if ids else {}
        minutes_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in await self._repository.minutes(ids, since, now) if ids else []:
            minutes_of[row["series_id"]].append(row)
        return ServiceMetrics(
            service=service,
            since=since,
            until=now,
            truncated=len(found) > limit,
            series=[
                MetricSeries(
                    series_id=str(series["series_id"]),
                    name=series["name"],
                    kind=series["kind"],
                    measure=measure_of(series),
                    unit=series["unit"],
                    description=series["description"],
                    instance=series["instance"],
                    attributes=json.loads(series["attributes"]),
                    first_seen=series["first_seen"],
                    last_seen=series["last_seen"],
                    last=_last(series, last.get(series["series_id"])),
                    points=[_point(series, row) for row in minutes_of[series["series_id"]]],
                )
                for series in shown
            ],
        )
