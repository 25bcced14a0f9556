"""A streaming univariate anomaly scorer: one instance per series, one point at a time.

Strictly online: the score of a point depends only on that point and the ones before it. Memory is
bounded (fixed-length histories) and each update costs a bounded amount of work.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from aiops_detector.detection.robust import ALARM_SCORE, MAD_SCALE, robust_z, surprise_to_score


@dataclass(frozen=True)
class StreamingParameters:
    # Points only learned from, never scored above zero: too little history to judge by.
    warmup_points: int = 150
    # Length of the history the value is judged against.
    history_points: int = 500
    # A robust z-score of this size is exactly the alarm level.
    alarm_z: float = 6.0
    # The smallest spread believed, as a fraction of the typical level: a flat history must not
    # turn a small wobble into an alarm.
    relative_spread_floor: float = 0.01
    # After an alarm, the same episode is not reported again for this many points.
    quiet_points: int = 200

    def max_retained_points(self) -> int:
        return self.history_points


class RollingWindow:
    """The last `size` values, with their median in O(log n) (bisect on a sorted copy) and their
    median absolute deviation computed on demand."""

    def __init__(self, size: int) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._values)

    def append(self, value: float) -> None:
        if len(self._values) == self._values.maxlen:
            oldest = self._values[0]
            del self._sorted[bisect.bisect_left(self._sorted, oldest)]
        self._values.append(value)
        bisect.insort(self._sorted, value)

    def median(self) -> float:
        ordered = self._sorted
        n = len(ordered)
        mid = n // 2
        return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    def mad(self, centre: float) -> float:
        return float(np.median(np.abs(np.asarray(self._sorted) - centre)))


class StreamingScorer:
    def __init__(self, parameters: StreamingParameters | None = None) -> None:
        self.parameters = parameters or StreamingParameters()
        self._history = RollingWindow(self.parameters.history_points)
        self._seen = 0
        self._quiet_left = 0

    def update(self, timestamp: datetime, value: float) -> float:
        """The anomaly score of this point, in [0, 1]; `>= ALARM_SCORE` is an anomaly."""
        surprise = self._surprise(value) if self._seen >= self.parameters.warmup_points else 0.0
        self._learn(value)
        score = surprise_to_score(surprise)
        if self._quiet_left > 0:
            self._quiet_left -= 1
            score = min(score, ALARM_SCORE * 0.99)
        elif score >= ALARM_SCORE:
            self._quiet_left = self.parameters.quiet_points
        return score

    def retained_points(self) -> int:
        return len(self._history)

    def _surprise(self, value: float) -> float:
        centre = self._history.median()
        floor = self.parameters.relative_spread_floor * max(abs(centre), 1e-9) / MAD_SCALE
        z = robust_z(value, centre, self._history.mad(centre), floor)
        return abs(z) / self.parameters.alarm_z

    def _learn(self, value: float) -> None:
        self._history.append(value)
        self._seen += 1
