"""The streaming scorer on synthetic series whose answers are known."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pytest

from aiops_detector.detection.robust import ALARM_SCORE
from aiops_detector.detection.rolling import RollingOrder
from aiops_detector.detection.streaming import RecordExcursion, StreamingParameters, StreamingScorer

START = datetime(2024, 1, 1)
STEP = timedelta(minutes=5)
PARAMETERS = StreamingParameters()
WARMED_UP = 1000


def scores_of(values: Sequence[float], parameters: StreamingParameters | None = None) -> list[float]:
    scorer = StreamingScorer(parameters)
    return [scorer.update(START + i * STEP, float(value)) for i, value in enumerate(values)]


def noisy(n: int, seed: int = 1, level: float = 100.0, sd: float = 1.0) -> np.ndarray:
    return level + np.random.default_rng(seed).normal(0.0, sd, n)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_flat_noisy_series_raises_no_alarm_after_warm_up(seed: int) -> None:
    scores = scores_of(noisy(4000, seed))
    assert max(scores[WARMED_UP:]) < ALARM_SCORE


def test_a_level_shift_is_flagged_within_a_few_points() -> None:
    values = noisy(2000)
    values[1500:] += 15.0
    scores = scores_of(values)
    assert max(scores[WARMED_UP:1500]) < ALARM_SCORE
    assert max(scores[1500:1505]) >= ALARM_SCORE


def test_a_level_drop_is_flagged_within_a_few_points() -> None:
    values = noisy(2000)
    values[1500:] -= 15.0
    scores = scores_of(values)
    assert max(scores[1500:1505]) >= ALARM_SCORE


def test_a_spike_is_flagged_at_once() -> None:
    values = noisy(2000)
    values[1500] += 30.0
    scores = scores_of(values)
    assert max(scores[WARMED_UP:1500]) < ALARM_SCORE
    assert scores[1500] >= ALARM_SCORE


def test_a_flat_line_raises_no_alarm_and_then_flags_a_change() -> None:
    values = np.full(1500, 45.0)
    values[1200] = 60.0
    scores = scores_of(values)
    assert max(scores[:1200]) < ALARM_SCORE
    assert scores[1200] >= ALARM_SCORE


@pytest.mark.parametrize(
    "values",
    [
        noisy(3000),
        np.cumsum(np.random.default_rng(5).normal(0, 1, 3000)),
        np.zeros(1000),
        np.concatenate([np.zeros(500), np.full(500, 1e9), np.zeros(500)]),
        np.where(np.arange(2000) % 97 == 0, 1e6, 0.0),
    ],
    ids=["noise", "random-walk", "zeros", "huge-steps", "rare-spikes"],
)
def test_scores_are_always_between_zero_and_one(values: np.ndarray) -> None:
    scores = scores_of(values)
    assert len(scores) == len(values)
    assert all(0.0 <= score <= 1.0 for score in scores)


def test_the_score_of_a_point_does_not_depend_on_later_points() -> None:
    first = noisy(2500, seed=4)
    second = first.copy()
    second[1800:] = np.random.default_rng(9).normal(500.0, 50.0, 700)
    assert scores_of(first)[:1800] == scores_of(second)[:1800]


@pytest.mark.xfail(
    strict=True,
    reason="known limitation: a record beaten by the calibration margin is routine in heavy-tailed "
    "noise, so such a series alarms every few hundred to thousand points (README, detection quality)",
)
@pytest.mark.parametrize(
    "values",
    [
        100.0 + np.random.default_rng(1).laplace(0.0, 1.0, 4000),
        100.0 * np.random.default_rng(2).lognormal(0.0, 0.5, 4000),
    ],
    ids=["laplace", "lognormal"],
)
def test_heavy_tailed_normal_noise_raises_no_alarm_after_warm_up(values: np.ndarray) -> None:
    assert max(scores_of(values)[WARMED_UP:]) < ALARM_SCORE


def test_the_rolling_mad_is_exactly_the_median_absolute_deviation() -> None:
    rng = np.random.default_rng(3)
    for trial in range(300):
        size = int(rng.integers(1, 40))
        window = RollingOrder(size)
        draws = [rng.normal(size=100), rng.integers(0, 4, 100).astype(float), rng.pareto(1.0, 100)]
        values = draws[trial % 3][: int(rng.integers(1, 100))]
        for value in values:
            window.append(float(value))
        kept = values[-size:]
        assert window.median() == np.median(kept)
        assert window.median_absolute_deviation() == pytest.approx(np.median(np.abs(kept - np.median(kept))))


def test_memory_is_bounded() -> None:
    scorer = StreamingScorer()
    for i, value in enumerate(noisy(5000)):
        scorer.update(START + i * STEP, float(value))
    assert scorer.retained_points() <= scorer.parameters.max_retained_points()


def daily_wave(days: int, seed: int = 1) -> np.ndarray:
    points_per_day = 288  # 5-minute steps
    t = np.arange(days * points_per_day)
    return 50 + 20 * np.sin(2 * np.pi * t / points_per_day) + noisy(len(t), seed, level=0.0, sd=0.5)


def test_a_daily_pattern_is_learned_and_its_break_is_flagged() -> None:
    values = daily_wave(8)
    # On day 7 the daily peak is cut off: the series stays flat from 20 to 124 points into the day,
    # where the wave comes back to the same value. No jump, no unusual level: only the time of
    # day says it is wrong.
    broken = 6 * 288 + 20
    values[broken : broken + 104] = values[broken]
    scores = scores_of(values)
    assert max(scores[3 * 288 : broken]) < ALARM_SCORE
    assert max(scores[broken : broken + 104]) >= ALARM_SCORE


def test_regular_spikes_stop_alarming_once_they_are_normal() -> None:
    values = noisy(4000)
    values[::50] += 40.0
    scores = scores_of(values)
    assert max(scores[2000:]) < ALARM_SCORE


def weekly_pattern(weeks: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Hourly points from a Monday: a daily wave on weekdays, flat at its mean on weekends."""
    hours = np.arange(weeks * 7 * 24)
    wave = 50 + 20 * np.sin(2 * np.pi * (hours % 24) / 24)
    weekday = hours // 24 % 7 < 5
    return np.where(weekday, wave, 50.0) + noisy(len(hours), seed, level=0.0, sd=0.5), wave


def hourly_scores(values: Sequence[float], parameters: StreamingParameters) -> list[float]:
    scorer = StreamingScorer(parameters)
    return [scorer.update(START + timedelta(hours=i), float(value)) for i, value in enumerate(values)]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_broken_weekly_pattern_is_flagged_by_the_week_earlier_view(seed: int) -> None:
    values, wave = weekly_pattern(6, seed)
    # The fifth Saturday behaves like a weekday: the same as the Friday before it, and within
    # the usual levels and changes; only a week earlier says it is wrong.
    saturday = 4 * 168 + 5 * 24
    values[saturday : saturday + 24] = wave[saturday : saturday + 24]
    scores = hourly_scores(values, PARAMETERS)
    assert max(scores[400:saturday]) < ALARM_SCORE
    assert max(scores[saturday : saturday + 24]) >= ALARM_SCORE
    daily_only = StreamingParameters(season_days=(1.0,), season_sensitivities=(1.0,))
    assert max(hourly_scores(values, daily_only)[saturday : saturday + 24]) < ALARM_SCORE


def test_a_gradual_slide_to_a_new_level_is_flagged_by_the_longer_history() -> None:
    # Over 300 points the level slides down by 8 noise widths and stays there: slowly enough for
    # the recent median to follow it, not for the longer history. (Close to the alarm level: a
    # slide's z-scores grow point by point, and each must beat the ones before it by the
    # calibration margin, so other noise draws fall just short.)
    values = noisy(5000, seed=1)
    values[3000:3300] -= 8.0 * np.arange(300) / 300
    values[3300:] -= 8.0
    scores = scores_of(values)
    assert max(scores[WARMED_UP:3000]) < ALARM_SCORE
    assert max(scores[3000:3500]) >= ALARM_SCORE
    short_only = scores_of(values, StreamingParameters(long_history_points=PARAMETERS.history_points))
    assert max(short_only[3000:3500]) < ALARM_SCORE


def test_a_record_excursion_is_measured_in_tolerances_of_the_range_seen() -> None:
    records = RecordExcursion(tolerance=0.2)
    assert [records.observe(value) for value in (0.0, 10.0, 5.0)] == [0.0, 0.0, 0.0]
    assert records.observe(11.0) == pytest.approx(0.5)  # 1 beyond the range 0..10, tolerance 2
    assert records.observe(-4.4) == pytest.approx(2.0)  # 4.4 below the range 0..11
    assert records.observe(-1.0) == 0.0


def test_a_value_far_beyond_every_value_seen_alarms_by_itself() -> None:
    # A square wave between 0 and 100: z-scores of a two-level series are small everywhere, and
    # jumps of 100 are normal life. 130 is no big jump or z-score, but it is 30% of the range
    # beyond anything seen.
    values = noisy(3000, level=0.0) + 100.0 * (np.arange(3000) // 50 % 2)
    values[2575] = 130.0  # in a high half-period
    assert max(scores_of(values)[WARMED_UP:2575]) < ALARM_SCORE
    assert scores_of(values)[2575] >= ALARM_SCORE
    without_records = scores_of(values, StreamingParameters(record_tolerance=math.inf))
    assert without_records[2575] < ALARM_SCORE


@pytest.mark.parametrize(("gap", "alarms"), [(50, False), (PARAMETERS.quiet_points + 50, True)])
def test_after_an_alarm_the_scorer_stays_quiet_for_a_while(gap: int, alarms: bool) -> None:
    values = noisy(2000)
    values[1500] += 30.0
    # Twice as big, so that it beats the first spike's z-score by more than the margin.
    values[1500 + gap] += 60.0
    scores = scores_of(values)
    assert scores[1500] >= ALARM_SCORE
    assert (scores[1500 + gap] >= ALARM_SCORE) is alarms


def test_judging_a_point_learns_nothing_from_it() -> None:
    """Every point judged before it is updated: the scores are those of updating alone, and each
    judgement is the score its update then gives (no alarm here, so no quiet period between)."""
    values = noisy(3000, seed=4) + 10 * np.sin(np.arange(3000) / 40)
    judged, updated = StreamingScorer(), StreamingScorer()
    for i, value in enumerate(values):
        at = START + i * STEP
        judgement = judged.judge(at, float(value))
        assert judged.update(at, float(value)) == pytest.approx(judgement)
        assert updated.update(at, float(value)) == pytest.approx(judgement)


def test_a_fault_never_learned_stays_anomalous_however_long_it_lasts() -> None:
    """Points judged anomalous and kept out of learning: a shift lasting longer than every
    history the scorer keeps is still judged anomalous at its end; learned, it would be normal."""
    parameters = StreamingParameters()
    kept_out, learning_all = StreamingScorer(parameters), StreamingScorer(parameters)
    values = noisy(1000 + 3 * parameters.long_history_points, seed=5)
    values[1000:] += 15.0
    for i, value in enumerate(values):
        at = START + i * STEP
        if kept_out.judge(at, float(value)) < ALARM_SCORE:
            kept_out.learn(at, float(value))
        learning_all.update(at, float(value))
    end = START + len(values) * STEP
    assert kept_out.judge(end, 115.0) >= ALARM_SCORE
    assert learning_all.judge(end, 115.0) < ALARM_SCORE
    baseline = kept_out.baseline()
    assert baseline is not None
    assert baseline[0] == pytest.approx(100.0, abs=0.5)
