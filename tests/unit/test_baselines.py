from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aiops_core.healthy_time import Measure, Trouble, look_back, spoiled_periods
from aiops_core.models import AnomalyKind
from aiops_detector.detection.baselines import (
    Baseline,
    HistoryPlan,
    RobustStat,
    RollupRow,
    learn_baseline,
    seasonal_ranges,
)
from aiops_detector.detection.detectors import Floors
from aiops_detector.detection.service import Standards

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def row(minute: int, requests: int = 600, errors: int = 3, p50: float = 40, p95: float = 90) -> RollupRow:
    start = T0 + minute * MINUTE
    return RollupRow(start, requests, errors, p50, p95, first_start=start, covered_until=start + MINUTE)


def every(rows: list[RollupRow]) -> dict[Measure, list[RollupRow]]:
    return {measure: rows for measure in Measure}


def test_robust_statistics_ignore_a_minute_of_outage() -> None:
    rows = [row(m) for m in range(10)] + [row(10, errors=600, p50=900, p95=2000)]
    baseline = learn_baseline(every(rows), seasonal=False, born=None)
    assert baseline.error_ratio == 0.005
    assert baseline.p50_ms is not None
    assert baseline.p50_ms.median == 40
    assert baseline.rate_per_s is not None
    assert baseline.rate_per_s.median == 10
    assert baseline.history_s == {measure: 11 * 60 for measure in Measure}


def test_a_new_series_counts_its_first_minute_from_its_birth() -> None:
    born = T0 + timedelta(seconds=30)
    first = RollupRow(T0, 300, 0, 40, 90, first_start=born, covered_until=T0 + MINUTE)
    in_progress = RollupRow(
        T0 + MINUTE, 200, 0, 40, 90, first_start=T0 + MINUTE, covered_until=T0 + 1.5 * MINUTE
    )
    baseline = learn_baseline(every([first, in_progress]), seasonal=False, born=born)
    assert baseline.history_s[Measure.RATE] == 60
    assert baseline.rate_per_s is not None
    assert baseline.rate_per_s.median == 300 / 30 / 2 + 200 / 30 / 2


def test_no_rows_teach_nothing_and_a_baseline_survives_its_cache_form() -> None:
    empty = learn_baseline(every([]), seasonal=False, born=None)
    assert empty.error_ratio is None
    assert empty.rate_per_s is None
    assert not empty.learned(Measure.ERRORS, 1)
    baseline = learn_baseline(every([row(m) for m in range(3)]), seasonal=True, born=None)
    assert Baseline.from_json(baseline.to_json()) == baseline
    assert Baseline.from_json(empty.to_json()) == empty


def test_seasonal_history_starts_after_a_day_and_narrows_to_the_weekday_after_a_week() -> None:
    assert seasonal_ranges(T0, T0 - timedelta(hours=5)) == []
    three_days = seasonal_ranges(T0, T0 - timedelta(days=3))
    assert [(T0 - lo).days for lo, _ in three_days] == [1, 2, 3]
    assert all(hi - lo == HOUR for lo, hi in three_days)
    weeks = seasonal_ranges(T0, T0 - timedelta(days=30))
    assert [round((T0 - lo) / timedelta(days=1)) for lo, _ in weeks] == [7, 14]


# Only healthy time teaches.

NOW = T0 + 3 * HOUR
FIRST_SEEN = T0


def healthy(minute: int) -> RollupRow:
    return row(minute, requests=600, errors=3, p50=40, p95=90)


def failing(minute: int) -> RollupRow:
    return row(minute, requests=600, errors=300, p50=5, p95=20)


def learn(rows: list[RollupRow], troubles: list[Trouble], **accepted: datetime) -> Baseline:
    plan = HistoryPlan.of(
        NOW, HOUR, FIRST_SEEN, troubles, {AnomalyKind(kind): at for kind, at in accepted.items()}
    )
    lo = min(lo for lo, _ in plan.ranges())
    return plan.learn([r for r in rows if r.minute >= lo])


def test_a_baseline_learned_over_a_fault_equals_the_one_learned_without_it() -> None:
    # Three hours of history; the last 90 minutes failing half the requests, with an anomaly
    # open all along: more than the hour a baseline learns from.
    fault_start = NOW - 90 * MINUTE
    minutes = range(180)
    with_fault = [failing(m) if T0 + m * MINUTE >= fault_start else healthy(m) for m in minutes]
    troubles = [
        Trouble(AnomalyKind.ERROR_RATIO, fault_start + timedelta(seconds=3), None),
        Trouble(AnomalyKind.LATENCY, fault_start + timedelta(seconds=8), None),
    ]
    baseline = learn(with_fault, troubles)
    # The same three hours had the series stayed healthy.
    expected = learn([healthy(m) for m in minutes], [])
    assert baseline.error_ratio == expected.error_ratio == 0.005
    assert baseline.p50_ms == expected.p50_ms
    assert baseline.p95_ms == expected.p95_ms
    assert baseline.history_s[Measure.ERRORS] >= 59 * 60, "a full hour of healthy history, from before"
    assert baseline.learned(Measure.ERRORS, 90)


def test_each_measure_leaves_out_only_the_kinds_that_spoil_it() -> None:
    fault_start = NOW - 20 * MINUTE
    rows = [healthy(m) for m in range(180)]
    baseline = learn(rows, [Trouble(AnomalyKind.TRAFFIC_DROP, fault_start, NOW - 10 * MINUTE)])
    # The rate leaves out the drop's minutes (and reaches back as far to make up for them);
    # errors and latency learn from every minute of the last hour.
    assert baseline.history_s[Measure.ERRORS] == 60 * 60
    assert baseline.history_s[Measure.LATENCY] == 60 * 60
    assert 59 * 60 <= baseline.history_s[Measure.RATE] <= 61 * 60
    assert spoiled_periods([Trouble(AnomalyKind.ERROR_RATIO, fault_start, None)], Measure.LATENCY, NOW), (
        "a failing series' latency is not normal either"
    )


def test_a_series_failing_since_its_first_request_has_nothing_to_learn_its_errors_from() -> None:
    rows = [failing(m) for m in range(180)]
    baseline = learn(rows, [Trouble(AnomalyKind.ERROR_RATIO, T0, None)])
    assert baseline.error_ratio is None
    assert baseline.history_s[Measure.ERRORS] == 0
    assert not baseline.learned(Measure.ERRORS, 90)
    assert baseline.learned(Measure.RATE, 90), "its rate is healthy and learned"


def test_an_accepted_change_is_learned_from_the_acceptance_on() -> None:
    accepted = NOW - 30 * MINUTE
    rows = [healthy(m) if T0 + m * MINUTE < accepted else row(m, p50=60, p95=120) for m in range(180)]
    baseline = learn(rows, [Trouble(AnomalyKind.LATENCY, accepted - 10 * MINUTE, accepted)], latency=accepted)
    assert baseline.p50_ms is not None
    assert baseline.p50_ms.median == 60
    assert baseline.history_s[Measure.LATENCY] == 30 * 60
    assert baseline.error_ratio == 0.005
    assert baseline.history_s[Measure.ERRORS] == 60 * 60, "other measures are not re-based"
    assert baseline.accepted == {Measure.LATENCY}
    assert Baseline.from_json(baseline.to_json()) == baseline


def test_an_accepted_measure_is_no_longer_judged_by_its_floor() -> None:
    floors = Floors(error_ratio=0.05, latency_ms=500.0, traffic_per_s=1.0)
    usual = Baseline(error_ratio=0.08, history_s={m: 3600.0 for m in Measure})
    assert Standards.of(usual, floors, 90, 2).floors == floors
    accepted = replace(usual, accepted_at={Measure.ERRORS: NOW})
    assert Standards.of(accepted, floors, 90, 2).floors == Floors(None, 500.0, 1.0)


def test_a_history_of_n_minutes_has_n_whole_minutes_and_the_one_in_progress() -> None:
    now = T0 + 5 * MINUTE + timedelta(seconds=5)
    rows = [healthy(m) for m in range(5)] + [
        RollupRow(now.replace(second=0), 50, 0, 40, 90, first_start=T0, covered_until=now)
    ]
    plan = HistoryPlan.of(now, MINUTE, T0, [], {})
    baseline = plan.learn(rows)
    assert baseline.history_s[Measure.LATENCY] == 65, "the whole minute before, and 5 s of this one"


def test_look_back_reaches_past_spoiled_time_but_not_before_the_limit() -> None:
    spoiled = [(NOW - 30 * MINUTE, NOW)]
    assert look_back(NOW, HOUR, [], T0) == NOW - HOUR
    assert look_back(NOW, HOUR, spoiled, T0) == NOW - HOUR - 30 * MINUTE
    # A period that starts and ends inside minutes costs each of those minutes whole.
    partly = [(NOW - 30 * MINUTE - timedelta(seconds=5), NOW - 10 * MINUTE + timedelta(seconds=5))]
    assert look_back(NOW, HOUR, partly, T0) == NOW - HOUR - 22 * MINUTE
    assert look_back(NOW, HOUR, [(T0, NOW)], T0 + MINUTE) == T0 + MINUTE


def test_a_measure_that_learned_keeps_its_opinion_when_a_fault_shrinks_its_history() -> None:
    # Learned on 100 s of latency; a fault soon after spoiled the minute it was in, leaving 40 s.
    earlier = Baseline(
        p50_ms=RobustStat(40, 2), p95_ms=RobustStat(90, 5), history_s={m: 100.0 for m in Measure}
    )
    shrunk = Baseline(
        p50_ms=RobustStat(41, 2),
        p95_ms=RobustStat(91, 5),
        history_s={Measure.RATE: 100.0, Measure.ERRORS: 100.0, Measure.LATENCY: 40.0},
    )
    kept = shrunk.keeping(earlier, 90)
    assert kept.learned(Measure.LATENCY, 90)
    assert (kept.p50_ms, kept.p95_ms) == (earlier.p50_ms, earlier.p95_ms)
    assert shrunk.keeping(None, 90) == shrunk
    # Learned measures are the fresh ones; and an acceptance since makes a measure learn afresh.
    assert kept.history_s[Measure.RATE] == 100.0
    accepted = replace(shrunk, accepted_at={Measure.LATENCY: NOW})
    assert not accepted.keeping(earlier, 90).learned(Measure.LATENCY, 90)
    assert Baseline.from_json(accepted.to_json()) == accepted
