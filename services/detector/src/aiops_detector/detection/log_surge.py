"""A surge of error logs: a service logging errors (ERROR and FATAL records) far more often in
the last minute than it usually does.

Usual is the median of its minutes over the hour before (zero where it logged none), leaving out
the minutes of its earlier surges, so that faulted time never teaches what is usual. A surge is a
count the usual rate (at least `FLOOR_PER_MIN`) makes unlikely, by a Poisson test at p < 10⁻⁴,
that is also at least `MIN_ERRORS` records and `MIN_FACTOR` times the usual: a service that
logs an error or two a minute is not surging at three.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.special import pdtrc

from aiops_detector.detection.robust import surprise_to_score

P_VALUE = 1e-4
MIN_ERRORS = 10
MIN_FACTOR = 3.0
# A service that usually logs no error is expected to log one every two minutes: its first few
# are not a surge.
FLOOR_PER_MIN = 0.5


@dataclass(frozen=True)
class LogSurge:
    errors: int  # in the window
    window_s: float
    usual_per_min: float
    p_value: float

    @property
    def per_min(self) -> float:
        return self.errors * 60 / self.window_s

    @property
    def score(self) -> float:
        """Its surprise in units of the test's own alarm level, scored as every detector's."""
        surprise = math.log(max(self.p_value, 1e-300)) / math.log(P_VALUE)
        return round(surprise_to_score(surprise), 4)

    @property
    def surging(self) -> bool:
        expected = max(self.usual_per_min, FLOOR_PER_MIN) * self.window_s / 60
        return self.errors >= MIN_ERRORS and self.errors >= MIN_FACTOR * expected and self.p_value < P_VALUE


def judge(errors: int, window_s: float, usual_minutes: Sequence[int]) -> LogSurge:
    """The last `window_s` seconds' `errors` against `usual_minutes`, the counts of the minutes
    that teach what is usual (zeros included)."""
    usual = statistics.median(usual_minutes) if usual_minutes else 0.0
    expected = max(usual, FLOOR_PER_MIN) * window_s / 60
    # P(X >= errors) for X ~ Poisson(expected); pdtrc(k, m) is P(X > k).
    p_value = float(pdtrc(errors - 1, expected)) if errors > 0 else 1.0
    return LogSurge(errors, window_s, float(usual), p_value)
