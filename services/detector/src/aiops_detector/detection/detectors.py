"""The detectors: each compares one window of a series with its baseline and with its floor, and
says how surprising it is, in units of its own alarm level (see `robust.py`).

Against the baseline, a detector needs two things at once before it alarms: a change that is
statistically significant given how many requests were seen (so 1 failure out of 2 requests is
not an anomaly), and a change big enough to matter (so a busy series is not flagged for a tiny
shift). Its surprise is the smaller of the two, each 1.0 at its alarm level.

Against the floor, it needs no history at all: the floor is a limit beyond which a request series
is never normal (more than 5% of requests failing, by default), and the window must be
significantly beyond it. A baseline that is still learning (None here) leaves the floor to judge
alone. The surprise is the larger of the two judgements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.special import bdtrc, pdtr, pdtrc

from aiops_core.models import AnomalyKind
from aiops_core.windows import SlotDelta
from aiops_detector.detection.baselines import RobustStat
from aiops_detector.detection.robust import MAD_SCALE, robust_z, surprise_to_score


@dataclass(frozen=True)
class Finding:
    kind: AnomalyKind
    surprise: float
    observed: dict[str, float | None]
    baseline: dict[str, float | None]

    @property
    def score(self) -> float:
        return surprise_to_score(self.surprise)


@dataclass(frozen=True)
class Floors:
    """A series' absolute limits; None: that detector has no floor for it."""

    error_ratio: float | None = 0.05
    # The p95 latency: more than 5% of requests slower than this is never normal.
    latency_ms: float | None = None
    # The request rate: less than this is never normal.
    traffic_per_s: float | None = None


@dataclass(frozen=True)
class LatencyUsual:
    p50_ms: RobustStat
    p95_ms: RobustStat


def _significance(p: float, p_alarm: float) -> float:
    """-log10(p) in units of -log10(p_alarm): 1.0 when p == p_alarm (infinite when p underflows)."""
    return math.inf if p <= 0 else math.log10(p) / math.log10(p_alarm)


def _beyond_share(hits: int, n: int, share: float, p_alarm: float) -> float:
    """Significance of `hits` out of `n` against a true share of at most `share`."""
    return _significance(float(bdtrc(hits - 1, n, share)), p_alarm) if hits > 0 else 0.0


@dataclass(frozen=True)
class ErrorRatioDetector:
    """Error ratio against the baseline's, and against the floor, by a binomial test on the
    window's counts."""

    # Safe because the test is against a ratio well above the usual one (see null_ratio).
    p_alarm: float = 1e-4
    min_ratio: float = 0.05
    # The ratio tested against is at least twice the usual one and a point above it.
    null_factor: float = 2.0
    null_margin: float = 0.01

    def out_of_line(self, slot: SlotDelta, usual: float | None, floor: float | None) -> bool | None:
        """Whether one second's error ratio is beyond what the baseline or the floor allow;
        None for a second without requests or nothing to judge by."""
        limits = [limit for limit in (self._null_ratio(usual), floor) if limit is not None]
        if not limits or slot.requests == 0:
            return None
        return slot.errors / slot.requests > min(limits)

    def _null_ratio(self, usual: float | None) -> float | None:
        if usual is None:
            return None
        return min(0.99, max(usual * self.null_factor, usual + self.null_margin))

    def evaluate(self, window: SlotDelta, usual: float | None, floor: float | None) -> Finding | None:
        n, k = window.requests, window.errors
        null_ratio = self._null_ratio(usual)
        if n == 0 or k == 0 or (null_ratio is None and floor is None):
            return None
        ratio = k / n
        surprise = 0.0
        if null_ratio is not None:
            # scipy.special's tails, not scipy.stats': the same numbers at a hundredth of the cost.
            p = float(bdtrc(k - 1, n, null_ratio))  # P(X >= k)
            surprise = min(_significance(p, self.p_alarm), ratio / self.min_ratio)
        if floor is not None:
            surprise = max(surprise, _beyond_share(k, n, floor, self.p_alarm))
        return Finding(
            AnomalyKind.ERROR_RATIO,
            surprise,
            observed={"requests": n, "errors": k, "error_ratio": ratio},
            baseline={"error_ratio": usual, "error_ratio_floor": floor},
        )


@dataclass(frozen=True)
class LatencyShiftDetector:
    """p50 and p95 against the baseline's, by robust z-score, relative and absolute change; and
    the share of requests slower than the floor, by a binomial test against 5% (a p95 floor)."""

    z_alarm: float = 5.0
    ratio_alarm: float = 1.5
    min_increase_ms: float = 20.0
    min_requests_p50: int = 5
    min_requests_p95: int = 30
    p_alarm: float = 1e-4
    floor_share: float = 0.05

    def out_of_line(self, slot: SlotDelta, usual: LatencyUsual | None, floor_ms: float | None) -> bool | None:
        """Whether one second's median latency is beyond what the baseline or the floor allow;
        None for a second without requests or nothing to judge by."""
        limits = [floor_ms] if floor_ms is not None else []
        if usual is not None:
            centre = usual.p50_ms.median
            spread = max(MAD_SCALE * usual.p50_ms.mad, _least_spread(centre))
            limits.append(
                max(centre + self.z_alarm * spread, centre * self.ratio_alarm, centre + self.min_increase_ms)
            )
        p50 = slot.latency.quantile(0.5)
        if not limits or p50 is None:
            return None
        return p50 > min(limits)

    def evaluate(
        self, window: SlotDelta, usual: LatencyUsual | None, floor_ms: float | None
    ) -> Finding | None:
        n = window.requests
        if n < self.min_requests_p50 or (usual is None and floor_ms is None):
            return None
        p50, p95, p99 = window.latency.quantiles((0.5, 0.95, 0.99))
        if p50 is None or p95 is None:
            return None
        surprise = 0.0
        if usual is not None:
            surprise = self._shift(p50, usual.p50_ms)
            if n >= self.min_requests_p95:
                surprise = max(surprise, self._shift(p95, usual.p95_ms))
        if floor_ms is not None:
            slow = window.latency.count_above(floor_ms)
            surprise = max(surprise, _beyond_share(slow, n, self.floor_share, self.p_alarm))
        return Finding(
            AnomalyKind.LATENCY,
            surprise,
            observed={"requests": n, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99},
            baseline={
                "p50_ms": usual.p50_ms.median if usual else None,
                "p95_ms": usual.p95_ms.median if usual else None,
                "p95_floor_ms": floor_ms,
            },
        )

    def _shift(self, observed: float, usual: RobustStat) -> float:
        z = robust_z(observed, usual.median, usual.mad, floor=_least_spread(usual.median))
        increase = observed - usual.median
        ratio = observed / usual.median if usual.median > 0 else math.inf
        return min(z / self.z_alarm, (ratio - 1) / (self.ratio_alarm - 1), increase / self.min_increase_ms)


def _least_spread(level: float) -> float:
    # A spread of at least 5% of the level (plus a millisecond): flat history is not exact.
    return 0.05 * level + 1.0


@dataclass(frozen=True)
class TrafficDetector:
    """Request count against the baseline rate: a Poisson test against the edge of the usual
    range (median -/+ 3 robust deviations), and a ratio to the median; and a Poisson test
    against the floor rate."""

    p_alarm: float = 1e-4
    drop_ratio: float = 0.5
    surge_ratio: float = 2.0
    deviations: float = 3.0

    def out_of_line(
        self, kind: AnomalyKind, slot: SlotDelta, usual: RobustStat | None, floor_per_s: float | None
    ) -> bool | None:
        """Whether one second's request count is below (for a drop) or above (for a surge) the
        usual range or the floor; None with nothing to judge by."""
        low, high = floor_per_s, None
        if usual is not None and usual.median > 0:
            spread = self.deviations * MAD_SCALE * usual.mad
            low = max(usual.median - spread, usual.median * self.drop_ratio, floor_per_s or 0.0)
            high = max(usual.median + spread, usual.median * self.surge_ratio)
        limit = low if kind is AnomalyKind.TRAFFIC_DROP else high
        if limit is None:
            return None
        return slot.requests < limit if kind is AnomalyKind.TRAFFIC_DROP else slot.requests > limit

    def evaluate(
        self, count: int, window_s: float, usual: RobustStat | None, floor_per_s: float | None
    ) -> Finding | None:
        observed: dict[str, float | None] = {"requests": count, "rate_per_s": count / window_s}
        expected: dict[str, float | None] = {
            "rate_per_s": usual.median if usual else None,
            "rate_floor_per_s": floor_per_s,
        }
        floor_surprise = 0.0
        if floor_per_s is not None and count < floor_per_s * window_s:
            floor_surprise = _significance(float(pdtr(count, floor_per_s * window_s)), self.p_alarm)
        if usual is None or usual.median <= 0:
            if floor_per_s is None:
                return None
            return Finding(AnomalyKind.TRAFFIC_DROP, floor_surprise, observed, expected)
        spread = self.deviations * MAD_SCALE * usual.mad
        ratio = count / (usual.median * window_s)
        if ratio < 1 or floor_surprise > 0:
            surprise = 0.0
            if ratio < 1:
                low = max(usual.median - spread, usual.median * self.drop_ratio) * window_s
                p = float(pdtr(count, low))  # P(X <= count)
                surprise = min(_significance(p, self.p_alarm), (1 - ratio) / (1 - self.drop_ratio))
            return Finding(AnomalyKind.TRAFFIC_DROP, max(surprise, floor_surprise), observed, expected)
        high = (usual.median + spread) * window_s
        p = float(pdtrc(count - 1, high))  # P(X >= count), count >= 1 here
        surprise = min(_significance(p, self.p_alarm), (ratio - 1) / (self.surge_ratio - 1))
        return Finding(AnomalyKind.TRAFFIC_SURGE, surprise, observed, expected)
