"""Each detector on synthetic windows with known answers."""

from __future__ import annotations

import random

from aiops_core.models import AnomalyKind
from aiops_detector.detection.baselines import Baseline, RobustStat
from aiops_detector.detection.detectors import ErrorRatioDetector, LatencyShiftDetector, TrafficDetector
from aiops_detector.detection.robust import ALARM_SCORE
from aiops_detector.detection.windows import SlotDelta


def baseline(
    *,
    rate: float = 50.0,
    rate_mad: float = 3.0,
    error_ratio: float = 0.005,
    p50: float = 40.0,
    p95: float = 90.0,
) -> Baseline:
    return Baseline(
        rows=60,
        covered_s=3600,
        rate_per_s=RobustStat(rate, rate_mad),
        error_ratio=error_ratio,
        p50_ms=RobustStat(p50, p50 * 0.05),
        p95_ms=RobustStat(p95, p95 * 0.08),
        seasonal=False,
    )


def window(requests: int, errors: int = 0, latencies: list[float] | None = None) -> SlotDelta:
    delta = SlotDelta(requests=requests, errors=errors)
    for value in latencies or [40.0] * requests:
        delta.latency.add(value)
    return delta


def alarms(finding: object) -> bool:
    return finding is not None and finding.score >= ALARM_SCORE  # type: ignore[attr-defined]


def test_one_failure_out_of_two_requests_is_not_an_anomaly() -> None:
    assert not alarms(ErrorRatioDetector().evaluate(window(2, 1), baseline()))


def test_thirty_percent_failures_at_fifty_requests_a_second_is() -> None:
    finding = ErrorRatioDetector().evaluate(window(500, 150), baseline())
    assert alarms(finding)
    assert finding is not None
    assert finding.kind is AnomalyKind.ERROR_RATIO
    assert finding.observed["error_ratio"] == 0.3


def test_the_usual_error_ratio_never_alarms_over_many_windows() -> None:
    rng = random.Random(11)
    detector = ErrorRatioDetector()
    for _ in range(20_000):
        n = rng.randint(20, 600)
        k = sum(rng.random() < 0.005 for _ in range(n))
        assert not alarms(detector.evaluate(window(n, k), baseline()))


def test_a_series_that_usually_fails_often_needs_far_more_to_alarm() -> None:
    noisy = baseline(error_ratio=0.2)
    assert not alarms(ErrorRatioDetector().evaluate(window(100, 30), noisy))
    assert alarms(ErrorRatioDetector().evaluate(window(100, 80), noisy))


def test_latency_shift_is_flagged_when_the_whole_distribution_moves() -> None:
    rng = random.Random(5)
    slow = [rng.lognormvariate(3.7, 0.3) + 300 for _ in range(50)]
    finding = LatencyShiftDetector().evaluate(window(50, latencies=slow), baseline())
    assert alarms(finding)
    assert finding is not None
    assert finding.observed["p50_ms"] is not None
    assert finding.observed["p50_ms"] > 300


def test_usual_latency_jitter_does_not_alarm() -> None:
    rng = random.Random(9)
    detector = LatencyShiftDetector()
    for _ in range(500):
        values = [rng.lognormvariate(3.69, 0.45) for _ in range(50)]
        assert not alarms(detector.evaluate(window(50, latencies=values), baseline()))


def test_a_few_slow_requests_are_not_enough_to_judge() -> None:
    assert LatencyShiftDetector().evaluate(window(3, latencies=[900.0] * 3), baseline()) is None


def test_a_small_absolute_increase_on_a_fast_series_is_not_an_anomaly() -> None:
    fast = baseline(p50=2.0, p95=4.0)
    finding = LatencyShiftDetector().evaluate(window(100, latencies=[6.0] * 100), fast)
    assert not alarms(finding)


def test_traffic_drop_to_a_tenth_is_flagged() -> None:
    finding = TrafficDetector().evaluate(count=25, window_s=5, baseline=baseline(rate=50))
    assert alarms(finding)
    assert finding is not None
    assert finding.kind is AnomalyKind.TRAFFIC_DROP


def test_traffic_surge_is_flagged() -> None:
    finding = TrafficDetector().evaluate(count=1000, window_s=5, baseline=baseline(rate=50))
    assert alarms(finding)
    assert finding is not None
    assert finding.kind is AnomalyKind.TRAFFIC_SURGE


def test_traffic_within_its_usual_range_does_not_alarm() -> None:
    rng = random.Random(2)
    detector = TrafficDetector()
    for _ in range(2000):
        rate = 50 * rng.uniform(0.75, 1.25)
        count = sum(1 for _ in range(int(rate * 5)) if rng.random() < 0.97)
        assert not alarms(detector.evaluate(count=count, window_s=5, baseline=baseline(rate=50)))


def test_a_quiet_series_going_silent_is_not_significant() -> None:
    # Usually 0.4 requests a second: 0 in 5 s happens by chance.
    assert not alarms(
        TrafficDetector().evaluate(count=0, window_s=5, baseline=baseline(rate=0.4, rate_mad=0.1))
    )
