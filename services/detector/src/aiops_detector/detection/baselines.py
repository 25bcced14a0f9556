"""What normal looks like for one series, learned from its per-minute rollups.

Robust statistics over rows of history: the median and MAD of the request rate, p50 and p95,
and the median error ratio. The rows are the recent hour plus, once a day of history exists, the
same time of day on earlier days (the same weekday once a week exists), so that a daily or
weekly rhythm is part of normal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from aiops_detector.detection.robust import median, median_absolute_deviation

MINUTE = timedelta(minutes=1)
SEASONAL_HALF_WIDTH = timedelta(minutes=30)


@dataclass(frozen=True)
class RollupRow:
    minute: datetime
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    first_start: datetime
    # Rows of the minute in progress are rolled up again and again; this is how far they cover.
    covered_until: datetime


@dataclass(frozen=True)
class RobustStat:
    median: float
    mad: float

    @classmethod
    def of(cls, values: Sequence[float]) -> RobustStat:
        centre = median(values)
        return cls(centre, median_absolute_deviation(values, centre))


@dataclass(frozen=True)
class Baseline:
    rows: int
    covered_s: float
    rate_per_s: RobustStat
    error_ratio: float
    p50_ms: RobustStat
    p95_ms: RobustStat
    seasonal: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Baseline:
        stats = {name: RobustStat(**data[name]) for name in ("rate_per_s", "p50_ms", "p95_ms")}
        return cls(**{**data, **stats})


@dataclass(frozen=True)
class HistoryRanges:
    """The time ranges whose rollups make a baseline at `now`."""

    recent: tuple[datetime, datetime]
    seasonal: list[tuple[datetime, datetime]]

    def all(self) -> list[tuple[datetime, datetime]]:
        return [self.recent, *self.seasonal]


def history_ranges(now: datetime, recent: timedelta, first_seen: datetime | None) -> HistoryRanges:
    """The recent window, plus the same time of day on earlier days when the series is older
    than a day (only the same weekday when it is older than a week), up to two weeks back."""
    ranges: list[tuple[datetime, datetime]] = []
    age = now - first_seen if first_seen is not None else timedelta(0)
    if age >= timedelta(days=1):
        step = timedelta(days=7) if age >= timedelta(days=7) else timedelta(days=1)
        back = step
        while back <= min(age, timedelta(days=14)):
            ranges.append((now - back - SEASONAL_HALF_WIDTH, now - back + SEASONAL_HALF_WIDTH))
            back += step
    return HistoryRanges(recent=(now - recent, now), seasonal=ranges)


def learn_baseline(rows: Sequence[RollupRow], *, seasonal: bool, born: datetime | None) -> Baseline | None:
    """A baseline from the rows, or None without rows. `born` is when the series was first seen,
    if that is within the rows' span: its first minute counts only from then."""
    if not rows:
        return None
    rates, covered_total = [], 0.0
    for row in rows:
        start = max(row.minute, born) if born is not None else row.minute
        end = min(row.minute + MINUTE, row.covered_until)
        covered = (end - start).total_seconds()
        if covered < 1:
            continue
        covered_total += covered
        rates.append(row.requests / covered)
    if not rates:
        return None
    return Baseline(
        rows=len(rows),
        covered_s=covered_total,
        rate_per_s=RobustStat.of(rates),
        # The median minute, not the pooled ratio: a few minutes of an outage must not teach
        # the baseline that failing is normal.
        error_ratio=median([row.errors / row.requests for row in rows if row.requests]),
        p50_ms=RobustStat.of([row.p50_ms for row in rows]),
        p95_ms=RobustStat.of([row.p95_ms for row in rows]),
        seasonal=seasonal,
    )
