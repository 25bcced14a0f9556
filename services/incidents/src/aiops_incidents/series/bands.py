"""The usual range of a series at each minute, learned from the healthy minutes of the hour
before that minute: the band a chart draws behind the series, so that a reader sees at a glance
where it left normal. As for the detector's baselines (`aiops_core.healthy_time`), a minute in
which the series had an anomaly does not teach the metrics that anomaly spoils, so a lasting
fault never widens the band to cover itself.

The band of a metric is its median over that hour ± 3 * 1.4826 * MAD (1.4826 * MAD estimates
the standard deviation of normally distributed values, and a few outliers hardly move it),
clipped to what the metric can be. It is the same robust statistic the detector's baselines
use, but a picture of it, not the detector's exact verdict (the detector also looks at the
same time on earlier days, and judges windows of seconds, not minutes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from aiops_core.healthy_time import Measure, Period, is_healthy

HISTORY = timedelta(minutes=60)
# Fewer earlier minutes than this make no band: too little to say what is usual.
MIN_HISTORY_MINUTES = 10
SPREAD = 3 * 1.4826
MINUTE_S = 60.0
# A minute covered for less than this still counts as this long, so that a minute whose
# rollup has only just begun does not read as a burst of traffic.
MIN_COVERED_S = 1.0

Range = tuple[float, float]


@dataclass(frozen=True)
class MinuteRollup:
    """One series' rollup of one minute, as the detector wrote it."""

    minute: datetime
    requests: int
    errors: int
    p95_ms: float
    # How far the rollup covers: the minute in progress is rolled up again on every run.
    covered_until: datetime

    @property
    def covered_s(self) -> float:
        covered = (self.covered_until - self.minute).total_seconds()
        return max(MIN_COVERED_S, min(MINUTE_S, covered))

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.covered_s

    @property
    def error_ratio(self) -> float:
        return self.errors / self.requests if self.requests > 0 else 0.0


@dataclass(frozen=True)
class Band:
    """Each metric's usual range; None where too few healthy minutes teach it."""

    requests_per_s: Range | None
    error_ratio: Range | None
    p95_ms: Range | None


def robust_range(values: Sequence[float], *, ceiling: float | None = None) -> Range:
    """median ± SPREAD * MAD of the values, at least 0 and at most `ceiling`."""
    centre = median(values)
    half_width = SPREAD * median([abs(value - centre) for value in values])
    low, high = max(0.0, centre - half_width), centre + half_width
    if ceiling is not None:
        low, high = min(low, ceiling), min(high, ceiling)
    return low, high


def _range_of(
    history: Sequence[MinuteRollup], spoiled: Sequence[Period], value: str, ceiling: float | None = None
) -> Range | None:
    values = [getattr(row, value) for row in history if is_healthy(row.minute, spoiled)]
    if len(values) < MIN_HISTORY_MINUTES:
        return None
    return robust_range(values, ceiling=ceiling)


def band_of(history: Sequence[MinuteRollup], spoiled: Mapping[Measure, Sequence[Period]]) -> Band | None:
    """The band the healthy rollups of the hour before a minute make; None when too few teach
    any metric."""
    band = Band(
        requests_per_s=_range_of(history, spoiled.get(Measure.RATE, ()), "requests_per_s"),
        error_ratio=_range_of(history, spoiled.get(Measure.ERRORS, ()), "error_ratio", ceiling=1.0),
        p95_ms=_range_of(history, spoiled.get(Measure.LATENCY, ()), "p95_ms"),
    )
    return None if band == Band(None, None, None) else band


def with_bands(
    rows: Sequence[MinuteRollup], since: datetime, spoiled: Mapping[Measure, Sequence[Period]]
) -> list[tuple[MinuteRollup, Band | None]]:
    """Each of the rows (one series', sorted by minute) from `since` on, with the band of the
    healthy rows in the hour before it (`spoiled`: the periods each measure must not learn from)."""
    banded: list[tuple[MinuteRollup, Band | None]] = []
    first = 0  # the oldest row still within the hour before the current one
    for index, row in enumerate(rows):
        if row.minute < since:
            continue
        while rows[first].minute < row.minute - HISTORY:
            first += 1
        banded.append((row, band_of(rows[first:index], spoiled)))
    return banded
