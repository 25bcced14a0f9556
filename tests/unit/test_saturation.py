import random

import pytest

from aiops_detector.detection.saturation import forecast, most_urgent


def test_a_steady_leak_is_forecast_to_exhaust_its_pool() -> None:
    # One connection leaked every 6 s, a reading every 5 s, for a minute: 10 in use in ~40 s more.
    points = [(t, t // 6) for t in range(0, 61, 5)]
    found = forecast([(float(t), float(v)) for t, v in points], limit=20)
    assert found is not None
    assert found.slope_per_s == pytest.approx(1 / 6, rel=0.2)
    assert found.exhausted_in_s == pytest.approx((20 - 10) * 6, rel=0.25)
    assert found.exhausts_within(900)
    assert found.climb_started_s == 5.0  # the last reading at the lowest, 0 in use


def test_noise_around_a_level_is_no_forecast_however_near_the_limit() -> None:
    noise = random.Random(7)
    points = [(float(t), 8 + noise.choice([-1.0, 0.0, 1.0])) for t in range(0, 300, 5)]
    found = forecast(points, limit=10)
    assert found is not None
    assert found.exhausted_in_s is None
    assert found.trend_z < 3


def test_a_slow_creep_far_from_its_limit_is_not_due_within_the_horizon() -> None:
    # 200 MB growing 1 MB a minute against 25 GB: years away.
    points = [(float(t), 200e6 + t / 60 * 1e6) for t in range(0, 600, 10)]
    found = forecast(points, limit=25e9)
    assert found is not None
    assert found.exhausted_in_s is not None
    assert not found.exhausts_within(900)


def test_a_gauge_at_its_limit_is_exhausted_whatever_its_trend() -> None:
    points = [(float(t), 10.0) for t in range(0, 60, 5)]
    found = forecast(points, limit=10)
    assert found is not None
    assert found.exhausted_in_s == 0.0


def test_an_outlier_does_not_bend_the_trend() -> None:
    points = [(float(t), 3.0) for t in range(0, 120, 5)]
    points[10] = (50.0, 9.0)  # one reading caught a burst
    found = forecast(points, limit=10)
    assert found is not None
    assert found.exhausted_in_s is None


@pytest.mark.parametrize("points", [[], [(0.0, 1.0)] * 5, [(float(t), float(t)) for t in range(6)]])
def test_too_few_or_too_close_points_say_nothing(points: list[tuple[float, float]]) -> None:
    assert forecast(points, limit=10) is None


def test_a_fast_leak_shows_in_the_last_minute_before_it_moves_the_long_line() -> None:
    # Ten quiet minutes at 1 or 2 in use, then 30 s of a leak of one connection every 6 s.
    quiet = [(float(t), 1.0 + t % 2) for t in range(0, 600, 5)]
    leak = [(600.0 + t, 2.0 + t // 6) for t in range(0, 35, 5)]
    assert forecast(quiet + leak, limit=10) is not None
    assert not forecast(quiet + leak, limit=10).exhausts_within(900)  # type: ignore[union-attr]
    urgent = most_urgent(quiet + leak, limit=10)
    assert urgent is not None
    assert urgent.exhausts_within(900)
    assert urgent.value < 10


def test_noise_near_the_limit_is_no_forecast_over_any_span() -> None:
    noise = random.Random(11)
    points: list[tuple[float, float]] = []
    for t in range(0, 3600, 5):
        points.append((float(t), noise.choice([7.0, 8.0, 9.0])))
        found = most_urgent(points, limit=10)
        assert found is None or not found.exhausts_within(900), t
