"""Robust statistics and the one score scale shared by every detector.

Each detector measures how surprising an observation is in units of its own alarm level
(`surprise == 1` is exactly at the alarm level) and maps that to a score in [0, 1] with
`surprise_to_score`, so that one threshold, `ALARM_SCORE`, means "anomalous" for all of them —
the live detectors and the offline `aiops detect-csv` runner alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# The score at and above which a detector's finding is an anomaly (the live pipeline's threshold).
ALARM_SCORE = 0.7

# MAD times this estimates the standard deviation of a normal distribution.
MAD_SCALE = 1.4826


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of no values")
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def median_absolute_deviation(values: Sequence[float], centre: float | None = None) -> float:
    centre = median(values) if centre is None else centre
    return median([abs(value - centre) for value in values])


def robust_z(value: float, centre: float, mad: float, floor: float) -> float:
    """How many robust standard deviations `value` is from `centre`. `floor` is the smallest
    spread believed, so that a perfectly flat history does not turn noise into infinity."""
    spread = max(MAD_SCALE * mad, floor)
    return (value - centre) / spread


def surprise_to_score(surprise: float) -> float:
    """Map a surprise (1.0 = the alarm level, 0 = nothing unusual) to [0, 1], monotonically,
    with `surprise_to_score(1.0) == ALARM_SCORE`."""
    if surprise <= 0:
        return 0.0
    # score = 1 - (1 - ALARM_SCORE) ** surprise: 0 at 0, ALARM_SCORE at 1, tends to 1.
    return 1.0 - (1.0 - ALARM_SCORE) ** surprise if math.isfinite(surprise) else 1.0
