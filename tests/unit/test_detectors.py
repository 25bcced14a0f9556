"""Each detector on synthetic windows with known answers."""

from __future__ import annotations

import random

from aiops_core.models import AnomalyKind
from aiops_core.windows import SlotDelta
from aiops_detector.detection.baselines import RobustStat
from aiops_detector.detection.detectors import (
    ErrorRatioDetector,
    LatencyShiftDetector,
    LatencyUsual,
    TrafficDetector,
)
from aiops_detector.detection.robust import ALARM_SCORE

USUAL_ERRORS = 0.005
USUAL_LATENCY = LatencyUsual(RobustStat(40.0, 2.0), RobustStat(90.0, 90.0 * 0.08))


def usual_rate(median: float = 50.0, mad: float = 3.0) -> RobustStat:
    return RobustStat(median, mad)


def window(requests: int, errors: int = 0, latencies: list[float] | None = None) -> SlotDelta:
    delta = SlotDelta(requests=requests, errors=errors)
    for value in latencies or [40.0] * requests:
        delta.latency.add(value)
    return delta


def alarms(finding: object) -> bool:
    return finding is not None and finding.score >= ALARM_SCORE  # type: ignore[attr-defined]


def test_one_failure_out_of_two_requests_is_not_an_anomaly() -> None:
    assert not alarms(ErrorRatioDetector().evaluate(window(2, 1), USUAL_ERRORS, None))


def test_thirty_percent_failures_at_fifty_requests_a_second_is() -> None:
    finding = ErrorRatioDetector().evaluate(window(500, 150), USUAL_ERRORS, None)
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
        # Only the counts matter to this detector.
        assert not alarms(detector.evaluate(SlotDelta(requests=n, errors=k), USUAL_ERRORS, None))


def test_a_series_that_usually_fails_often_needs_far_more_to_alarm() -> None:
    assert not alarms(ErrorRatioDetector().evaluate(window(100, 30), 0.2, None))
    assert alarms(ErrorRatioDetector().evaluate(window(100, 80), 0.2, None))


def test_latency_shift_is_flagged_when_the_whole_distribution_moves() -> None:
    rng = random.Random(5)
    slow = [rng.lognormvariate(3.7, 0.3) + 300 for _ in range(50)]
    finding = LatencyShiftDetector().evaluate(window(50, latencies=slow), USUAL_LATENCY, None)
    assert alarms(finding)
    assert finding is not None
    assert finding.observed["p50_ms"] is not None
    assert finding.observed["p50_ms"] > 300


def test_usual_latency_jitter_does_not_alarm() -> None:
    rng = random.Random(9)
    detector = LatencyShiftDetector()
    for _ in range(500):
        values = [rng.lognormvariate(3.69, 0.45) for _ in range(50)]
        assert not alarms(detector.evaluate(window(50, latencies=values), USUAL_LATENCY, None))


def test_a_few_slow_requests_are_not_enough_to_judge() -> None:
    assert LatencyShiftDetector().evaluate(window(3, latencies=[900.0] * 3), USUAL_LATENCY, None) is None


def test_a_small_absolute_increase_on_a_fast_series_is_not_an_anomaly() -> None:
    fast = LatencyUsual(RobustStat(2.0, 0.1), RobustStat(4.0, 0.3))
    finding = LatencyShiftDetector().evaluate(window(100, latencies=[6.0] * 100), fast, None)
    assert not alarms(finding)


def test_traffic_drop_to_a_tenth_is_flagged() -> None:
    finding = TrafficDetector().evaluate(25, 5, usual_rate(50), None)
    assert alarms(finding)
    assert finding is not None
    assert finding.kind is AnomalyKind.TRAFFIC_DROP


def test_traffic_surge_is_flagged() -> None:
    finding = TrafficDetector().evaluate(1000, 5, usual_rate(50), None)
    assert alarms(finding)
    assert finding is not None
    assert finding.kind is AnomalyKind.TRAFFIC_SURGE


def test_traffic_within_its_usual_range_does_not_alarm() -> None:
    rng = random.Random(2)
    detector = TrafficDetector()
    for _ in range(2000):
        rate = 50 * rng.uniform(0.75, 1.25)
        count = sum(1 for _ in range(int(rate * 5)) if rng.random() < 0.97)
        assert not alarms(detector.evaluate(count, 5, usual_rate(50), None))


def test_a_quiet_series_going_silent_is_not_significant() -> None:
    # Usually 0.4 requests a second: 0 in 5 s happens by chance.
    assert not alarms(TrafficDetector().evaluate(0, 5, usual_rate(0.4, 0.1), None))


# Floors: limits that need no history.


def test_the_error_floor_fires_with_no_history() -> None:
    finding = ErrorRatioDetector().evaluate(window(100, 40), None, 0.05)
    assert alarms(finding)
    assert finding is not None
    assert finding.baseline == {"error_ratio": None, "error_ratio_floor": 0.05}


def test_the_error_floor_still_needs_significance() -> None:
    detector = ErrorRatioDetector()
    assert not alarms(detector.evaluate(window(3, 1), None, 0.05)), "1 failure in 3 requests"
    assert not alarms(detector.evaluate(window(100, 7), None, 0.05)), "7% is not significantly over 5%"
    assert alarms(detector.evaluate(window(1000, 100), None, 0.05)), "10% of 1000 is"


def test_the_error_floor_holds_whatever_the_baseline_learned() -> None:
    # A baseline that learned 40% failures would let 45% pass; the floor does not.
    assert not alarms(ErrorRatioDetector().evaluate(window(200, 90), 0.4, None))
    assert alarms(ErrorRatioDetector().evaluate(window(200, 90), 0.4, 0.05))


def test_nothing_to_judge_by_gives_no_finding() -> None:
    assert ErrorRatioDetector().evaluate(window(100, 40), None, None) is None
    assert LatencyShiftDetector().evaluate(window(100, latencies=[900.0] * 100), None, None) is None
    assert TrafficDetector().evaluate(0, 5, None, None) is None


def test_the_latency_floor_fires_with_no_history_when_more_than_5_percent_are_slower() -> None:
    detector = LatencyShiftDetector()
    slow = [50.0] * 80 + [1200.0] * 20
    finding = detector.evaluate(window(100, latencies=slow), None, 1000.0)
    assert alarms(finding)
    assert finding is not None
    assert finding.baseline["p95_floor_ms"] == 1000.0
    assert not alarms(detector.evaluate(window(100, latencies=[50.0] * 97 + [1200.0] * 3), None, 1000.0))


def test_the_traffic_floor_fires_with_no_history() -> None:
    finding = TrafficDetector().evaluate(2, 5, None, 5.0)
    assert alarms(finding)
    assert finding is not None
    assert finding.kind is AnomalyKind.TRAFFIC_DROP
    assert not alarms(TrafficDetector().evaluate(24, 5, None, 5.0))


def test_a_second_is_out_of_line_by_the_same_limits() -> None:
    errors, latency, traffic = ErrorRatioDetector(), LatencyShiftDetector(), TrafficDetector()
    assert errors.out_of_line(window(10, 3), None, 0.05) is True
    assert errors.out_of_line(window(10, 0), USUAL_ERRORS, 0.05) is False
    assert errors.out_of_line(window(0), USUAL_ERRORS, 0.05) is None
    assert errors.out_of_line(window(10, 3), None, None) is None
    assert latency.out_of_line(window(5, latencies=[400.0] * 5), USUAL_LATENCY, None) is True
    assert latency.out_of_line(window(5, latencies=[41.0] * 5), USUAL_LATENCY, None) is False
    assert traffic.out_of_line(AnomalyKind.TRAFFIC_DROP, window(5), usual_rate(50), None) is True
    assert traffic.out_of_line(AnomalyKind.TRAFFIC_DROP, window(50), usual_rate(50), None) is False
    assert traffic.out_of_line(AnomalyKind.TRAFFIC_SURGE, window(500), usual_rate(50), None) is True
