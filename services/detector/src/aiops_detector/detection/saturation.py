"""Time to exhaustion: a gauge with a known limit (a pool's connections in use against its size,
a process's memory against its limit) forecast to reach that limit within a horizon.

The trend is a Theil-Sen line over the recent points (the median of the slopes between every two
points: a few outliers, a burst or a dip, do not bend it). A forecast only counts when the climb
is a trend, not noise around a level: the Mann-Kendall test (pairs that rise against pairs that
fall) must find it at `MIN_TREND_Z` standard deviations, about one chance in a thousand for noise.
The level now is read off the line, not the last point, for the same reason. A gauge already at
its limit is exhausted whatever its trend.

A fast leak shows in the last minute long before it moves a ten-minute line, and a slow one only
over many minutes: the forecast is made over trailing spans of several lengths (`SPANS_S`), and
the most urgent that finds a trend is the one that counts.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# The least a forecast is made from: a handful of points over half a minute.
MIN_POINTS = 6
MIN_SPAN_S = 30.0
# How strongly the Mann-Kendall test must find a rising trend.
MIN_TREND_Z = 3.0
# At most this many points are used (the latest): the pairs grow with their square.
MAX_POINTS = 120
# The trailing spans each forecast is made over (the longer ones where the window allows).
SPANS_S = (60.0, 180.0, 600.0, 1800.0)


@dataclass(frozen=True)
class Forecast:
    value: float  # the level now, on the trend line (the last point's, when exhausted)
    limit: float
    slope_per_s: float
    trend_z: float  # the Mann-Kendall statistic: how surely it rises
    exhausted_in_s: float | None  # None: not on course to reach the limit
    climb_started_s: float  # when the climb began: the last time the gauge was at its lowest

    def exhausts_within(self, horizon_s: float) -> bool:
        return self.exhausted_in_s is not None and self.exhausted_in_s <= horizon_s


def forecast(points: Sequence[tuple[float, float]], limit: float) -> Forecast | None:
    """The forecast of `points` ((seconds, value), oldest first) against `limit`; None when they
    are too few or too close together to say."""
    points = points[-MAX_POINTS:]
    if len(points) < MIN_POINTS or points[-1][0] - points[0][0] < MIN_SPAN_S or limit <= 0:
        return None
    slopes = [
        (v2 - v1) / (t2 - t1) for i, (t1, v1) in enumerate(points) for t2, v2 in points[i + 1 :] if t2 > t1
    ]
    if not slopes:
        return None
    slope = statistics.median(slopes)
    z = _mann_kendall_z(slopes, len(points))
    now, last = points[-1]
    lowest = min(value for _, value in points)
    climb_started = max(t for t, value in points if value == lowest)
    if last >= limit:
        return Forecast(last, limit, slope, z, 0.0, climb_started)
    level = statistics.median(v - slope * t for t, v in points) + slope * now
    if slope <= 0 or z < MIN_TREND_Z:
        return Forecast(level, limit, slope, z, None, climb_started)
    return Forecast(level, limit, slope, z, max(0.0, (limit - level) / slope), climb_started)


def most_urgent(points: Sequence[tuple[float, float]], limit: float) -> Forecast | None:
    """Of the forecasts over the trailing spans, the one that reaches the limit soonest; else the
    one over the longest span that could be made."""
    if not points:
        return None
    now = points[-1][0]
    found = [f for span in SPANS_S if (f := forecast([p for p in points if p[0] >= now - span], limit))]
    due = [f for f in found if f.exhausted_in_s is not None]
    if due:
        return min(due, key=lambda f: f.exhausted_in_s or 0.0)
    return found[-1] if found else None


def _mann_kendall_z(slopes: Sequence[float], n: int) -> float:
    """The Mann-Kendall statistic of a series from its pairwise slopes: rises minus falls, in
    standard deviations of what noise gives (ties count as neither), with continuity correction."""
    s = sum(1 for slope in slopes if slope > 0) - sum(1 for slope in slopes if slope < 0)
    sd = math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    return (s - math.copysign(1, s)) / sd if s else 0.0
