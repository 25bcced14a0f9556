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

import numpy as np

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


# Each metric, the measure whose anomalies spoil it, and the most it can be.
_METRICS: tuple[tuple[Measure, str, float | None], ...] = (
    (Measure.RATE, "requests_per_s", None),
    (Measure.ERRORS, "error_ratio", 1.0),
    (Measure.LATENCY, "p95_ms", None),
)


def with_bands(
    rows: Sequence[MinuteRollup], since: datetime, spoiled: Mapping[Measure, Sequence[Period]]
) -> list[tuple[MinuteRollup, Band | None]]:
    """Each of the rows (one series', sorted by minute) from `since` on, with the band of the
    healthy rows in the hour before it (`spoiled`: the periods each measure must not learn from);
    None where too few healthy minutes teach any metric.

    Every minute's hour is taken at once, as a row of a (minutes x history) matrix whose medians
    numpy computes together: a day of minutes, one by one, took seconds."""
    targets = np.array([index for index, row in enumerate(rows) if row.minute >= since], dtype=np.intp)
    if targets.size == 0:
        return []
    starts = np.array([row.minute.timestamp() for row in rows])
    # The oldest row within the hour before each target; its history runs up to the target.
    first = np.searchsorted(starts, starts[targets] - HISTORY.total_seconds(), side="left")
    width = max(1, int((targets - first).max()))
    positions = first[:, None] + np.arange(width)[None, :]
    in_history = positions < targets[:, None]
    positions = np.minimum(positions, len(rows) - 1)
    ranges: dict[str, list[Range | None]] = {}
    for measure, metric, ceiling in _METRICS:
        periods = spoiled.get(measure, ())
        values = np.array(
            [getattr(row, metric) if is_healthy(row.minute, periods) else np.nan for row in rows]
        )
        ranges[metric] = _robust_ranges(np.where(in_history, values[positions], np.nan), ceiling)
    banded: list[tuple[MinuteRollup, Band | None]] = []
    for k, index in enumerate(targets):
        band = Band(**{metric: ranges[metric][k] for _, metric, _ in _METRICS})
        banded.append((rows[index], None if band == Band(None, None, None) else band))
    return banded


def _robust_ranges(history: np.ndarray, ceiling: float | None) -> list[Range | None]:
    """`robust_range` of each row of `history` (NaN where no value), or None for a row with fewer
    than MIN_HISTORY_MINUTES values."""
    ranges: list[Range | None] = [None] * len(history)
    enough = np.count_nonzero(~np.isnan(history), axis=1) >= MIN_HISTORY_MINUTES
    if not enough.any():
        return ranges
    taught = history[enough]
    centre = np.nanmedian(taught, axis=1)
    half_width = SPREAD * np.nanmedian(np.abs(taught - centre[:, None]), axis=1)
    low, high = np.maximum(0.0, centre - half_width), centre + half_width
    if ceiling is not None:
        low, high = np.minimum(low, ceiling), np.minimum(high, ceiling)
    for k, lo, hi in zip(np.flatnonzero(enough), low, high, strict=True):
        ranges[k] = (float(lo), float(hi))
    return ranges
