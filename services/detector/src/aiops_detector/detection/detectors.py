"""The detectors: each compares one window of a series with its baseline and says how
surprising it is, in units of its own alarm level (see `robust.py`).

Every detector needs two things at once before it alarms: a change that is statistically
significant given how many requests were seen (so 1 failure out of 2 requests is not an
anomaly), and a change big enough to matter (so a busy series is not flagged for a tiny shift).
Its surprise is the smaller of the two, each 1.0 at its alarm level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.special import bdtrc, pdtr, pdtrc

from aiops_core.models import AnomalyKind
from aiops_detector.detection.baselines import Baseline, RobustStat
from aiops_detector.detection.robust import MAD_SCALE, robust_z, surprise_to_score
from aiops_detector.detection.windows import SlotDelta


@dataclass(frozen=True)
class Finding:
    kind: AnomalyKind
    surprise: float
    observed: dict[str, float | None]
    baseline: dict[str, float | None]

    @property
    def score(self) -> float:
        return surprise_to_score(self.surprise)


def _significance(p: float, p_alarm: float) -> float:
    """-log10(p) in units of -log10(p_alarm): 1.0 when p == p_alarm (infinite when p underflows)."""
    return math.inf if p <= 0 else math.log10(p) / math.log10(p_alarm)


@dataclass(frozen=True)
class ErrorRatioDetector:
    """Error ratio against the baseline's, with a binomial test on the window's counts."""

    # Safe because the test is against a ratio well above the usual one (see null_ratio).
    p_alarm: float = 1e-4
    min_ratio: float = 0.05
    # The ratio tested against is at least twice the usual one and a point above it.
    null_factor: float = 2.0
    null_margin: float = 0.01

    def evaluate(self, window: SlotDelta, baseline: Baseline) -> Finding | None:
        n, k = window.requests, window.errors
        if n == 0 or k == 0:
            return None
        usual = baseline.error_ratio
        null_ratio = min(0.99, max(usual * self.null_factor, usual + self.null_margin))
        # scipy.special's tails, not scipy.stats': the same numbers at a hundredth of the cost.
        p = float(bdtrc(k - 1, n, null_ratio))  # P(X >= k)
        ratio = k / n
        surprise = min(_significance(p, self.p_alarm), ratio / self.min_ratio)
        return Finding(
            AnomalyKind.ERROR_RATIO,
            surprise,
            observed={"requests": n, "errors": k, "error_ratio": ratio},
            baseline={"error_ratio": usual},
        )


@dataclass(frozen=True)
class LatencyShiftDetector:
    """p50 and p95 against the baseline's, by robust z-score, relative and absolute change."""

    z_alarm: float = 5.0
    ratio_alarm: float = 1.5
    min_increase_ms: float = 20.0
    min_requests_p50: int = 5
    min_requests_p95: int = 30

    def evaluate(self, window: SlotDelta, baseline: Baseline) -> Finding | None:
        n = window.requests
        if n < self.min_requests_p50:
            return None
        p50, p95, p99 = window.latency.quantiles((0.5, 0.95, 0.99))
        if p50 is None or p95 is None:
            return None
        surprise = self._shift(p50, baseline.p50_ms)
        if n >= self.min_requests_p95:
            surprise = max(surprise, self._shift(p95, baseline.p95_ms))
        return Finding(
            AnomalyKind.LATENCY,
            surprise,
            observed={"requests": n, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99},
            baseline={"p50_ms": baseline.p50_ms.median, "p95_ms": baseline.p95_ms.median},
        )

    def _shift(self, observed: float, usual: RobustStat) -> float:
        # A spread of at least 5% of the level (plus a millisecond): flat history is not exact.
        z = robust_z(observed, usual.median, usual.mad, floor=0.05 * usual.median + 1.0)
        increase = observed - usual.median
        ratio = observed / usual.median if usual.median > 0 else math.inf
        return min(z / self.z_alarm, (ratio - 1) / (self.ratio_alarm - 1), increase / self.min_increase_ms)


@dataclass(frozen=True)
class TrafficDetector:
    """Request count against the baseline rate: a Poisson test against the edge of the usual
    range (median -/+ 3 robust deviations), and a ratio to the median."""

    p_alarm: float = 1e-4
    drop_ratio: float = 0.5
    surge_ratio: float = 2.0
    deviations: float = 3.0

    def evaluate(self, count: int, window_s: float, baseline: Baseline) -> Finding | None:
        usual = baseline.rate_per_s
        if usual.median <= 0:
            return None
        spread = self.deviations * MAD_SCALE * usual.mad
        ratio = count / (usual.median * window_s)
        observed: dict[str, float | None] = {"requests": count, "rate_per_s": count / window_s}
        expected: dict[str, float | None] = {"rate_per_s": usual.median}
        if ratio < 1:
            low = max(usual.median - spread, usual.median * self.drop_ratio) * window_s
            p = float(pdtr(count, low))  # P(X <= count)
            surprise = min(_significance(p, self.p_alarm), (1 - ratio) / (1 - self.drop_ratio))
            return Finding(AnomalyKind.TRAFFIC_DROP, surprise, observed, expected)
        high = (usual.median + spread) * window_s
        p = float(pdtrc(count - 1, high))  # P(X >= count), count >= 1 here
        surprise = min(_significance(p, self.p_alarm), (ratio - 1) / (self.surge_ratio - 1))
        return Finding(AnomalyKind.TRAFFIC_SURGE, surprise, observed, expected)
