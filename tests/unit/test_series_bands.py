"""The baseline band behind a series' chart: median ± 3 * 1.4826 * MAD of the healthy minutes of
the hour before each minute, clipped, and none without ten of them; and the request rate of a
minute that is only partly covered."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from aiops_core.healthy_time import Measure, Trouble, is_healthy, spoiled_by_measure
from aiops_core.models import AnomalyKind
from aiops_incidents.series.bands import Band, MinuteRollup, robust_range, with_bands

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HEALTHY: dict[Measure, list[tuple[datetime, datetime]]] = {}


def rollup(minute: int, *, requests: int = 120, errors: int = 0, p95_ms: float = 40.0) -> MinuteRollup:
    start = T0 + timedelta(minutes=minute)
    return MinuteRollup(
        minute=start,
        requests=requests,
        errors=errors,
        p95_ms=p95_ms,
        covered_until=start + timedelta(minutes=1),
    )


def band_after(history: list[MinuteRollup]) -> Band | None:
    """The band of the minute after `history` (minutes 0, 1, ...)."""
    following = rollup(len(history))
    [(_, band)] = with_bands([*history, following], following.minute, HEALTHY)
    return band


def test_the_range_is_the_median_plus_or_minus_three_scaled_mads() -> None:
    # Median 10; absolute deviations 0, 1, 1, 2, 2: MAD 1.
    low, high = robust_range([8, 9, 10, 11, 12])
    assert (low, high) == pytest.approx((10 - 3 * 1.4826, 10 + 3 * 1.4826))


def test_an_outlier_hardly_moves_the_range() -> None:
    assert robust_range([8, 9, 10, 11, 1000]) == pytest.approx(robust_range([8, 9, 10, 11, 12]))


def test_the_range_is_clipped_to_what_the_metric_can_be() -> None:
    assert robust_range([0.0, 0.0, 0.5, 1.0, 1.0], ceiling=1.0) == (0.0, 1.0)
    low, high = robust_range([1, 2, 3, 50, 60])
    assert low == 0.0
    assert high > 3


def test_no_band_from_fewer_than_ten_minutes() -> None:
    assert band_after([rollup(m) for m in range(9)]) is None
    band = band_after([rollup(m) for m in range(10)])
    assert band is not None
    assert band.requests_per_s == (2.0, 2.0)
    assert band.error_ratio == (0.0, 0.0)
    assert band.p95_ms == (40.0, 40.0)


def test_the_band_of_each_metric_comes_from_its_own_values() -> None:
    history = [rollup(m, requests=60 * (1 + m % 3), errors=m % 2 * 6, p95_ms=100 + m % 5) for m in range(30)]
    band = band_after(history)
    assert band is not None
    assert band.requests_per_s == pytest.approx(robust_range([1.0 + m % 3 for m in range(30)]))
    ratios = [(m % 2 * 6) / (60 * (1 + m % 3)) for m in range(30)]
    assert band.error_ratio == pytest.approx(robust_range(ratios, ceiling=1.0))
    assert band.p95_ms == pytest.approx(robust_range([100.0 + m % 5 for m in range(30)]))


def test_each_minute_gets_the_band_of_the_hour_before_it_only() -> None:
    # Two hours of 2 requests/s, then a minute of 10/s: its band is still the usual one.
    rows = [rollup(m) for m in range(120)] + [rollup(120, requests=600)]
    banded = with_bands(rows, T0 + timedelta(minutes=118), HEALTHY)
    assert [row.minute for row, _ in banded] == [T0 + timedelta(minutes=m) for m in (118, 119, 120)]
    last_row, last_band = banded[-1]
    assert last_row.requests_per_s == 10.0
    assert last_band is not None
    assert last_band.requests_per_s == (2.0, 2.0)
    # Only the 60 minutes before count: a burst 61 minutes earlier is forgotten.
    rows = [rollup(0, requests=6000)] + [rollup(m, requests=60 + m % 2 * 60) for m in range(1, 62)]
    [(_, band)] = with_bands(rows, T0 + timedelta(minutes=61), HEALTHY)
    assert band is not None
    hour_before = [1.0 + m % 2 for m in range(1, 61)]
    assert band.requests_per_s == pytest.approx(robust_range(hour_before))
    assert band.requests_per_s != pytest.approx(robust_range([100.0, *hour_before]))


def test_the_first_minutes_have_no_band_until_ten_came_before() -> None:
    banded = with_bands([rollup(m) for m in range(12)], T0, HEALTHY)
    assert [band is None for _, band in banded] == [True] * 10 + [False] * 2


def test_a_lasting_fault_never_teaches_the_band_its_own_values() -> None:
    # An hour and a half of 2 requests/s without errors, then an hour failing half of them,
    # with an error anomaly open all along.
    fault = 90
    rows = [rollup(m) for m in range(fault)] + [rollup(m, errors=60) for m in range(fault, fault + 60)]
    now = T0 + timedelta(minutes=fault + 60)
    troubles = [Trouble(AnomalyKind.ERROR_RATIO, T0 + timedelta(minutes=fault, seconds=2), None)]
    spoiled = spoiled_by_measure(troubles, now)
    [*_, (last, band)] = with_bands(rows, T0 + timedelta(minutes=fault + 59), spoiled)
    assert last.error_ratio == 0.5
    assert band is not None
    assert band.error_ratio is None, "no healthy minute in the hour before: no usual error ratio"
    assert band.p95_ms is None, "a failing series' latency is not usual either"
    assert band.requests_per_s == (2.0, 2.0), "its rate is healthy and still has a band"
    # Without the anomaly, the fault would have become the usual range.
    [*_, (_, unaware)] = with_bands(rows, T0 + timedelta(minutes=fault + 59), HEALTHY)
    assert unaware is not None
    assert unaware.error_ratio == (0.5, 0.5)


def test_a_minute_in_progress_counts_only_the_seconds_covered() -> None:
    partial = MinuteRollup(
        minute=T0, requests=30, errors=3, p95_ms=50.0, covered_until=T0 + timedelta(seconds=15)
    )
    assert partial.requests_per_s == 2.0
    assert partial.error_ratio == 0.1
    # Rolled up again long after its end: still a minute.
    late = MinuteRollup(minute=T0, requests=120, errors=0, p95_ms=50.0, covered_until=T0 + timedelta(hours=1))
    assert late.requests_per_s == 2.0
    # Covered not at all yet: no division by zero, and no burst out of a few requests.
    fresh = MinuteRollup(minute=T0, requests=3, errors=0, p95_ms=50.0, covered_until=T0)
    assert fresh.requests_per_s == 3.0
    assert MinuteRollup(minute=T0, requests=0, errors=0, p95_ms=0.0, covered_until=T0).error_ratio == 0.0


def test_every_minute_s_band_is_the_robust_range_of_its_own_healthy_hour() -> None:
    # Three hours with minutes missing, an error anomaly in the middle, values all over.
    rng = random.Random(3)
    rows = [
        rollup(m, requests=rng.randrange(1, 300), errors=rng.randrange(0, 5), p95_ms=rng.uniform(5, 500))
        for m in range(180)
        if rng.random() > 0.15
    ]
    troubles = [Trouble(AnomalyKind.ERROR_RATIO, T0 + timedelta(minutes=70), T0 + timedelta(minutes=95))]
    spoiled = spoiled_by_measure(troubles, T0 + timedelta(minutes=180))
    since = T0 + timedelta(minutes=30)
    banded = with_bands(rows, since, spoiled)
    assert [row for row, _ in banded] == [row for row in rows if row.minute >= since]
    for row, band in banded:
        hour = [r for r in rows if row.minute - timedelta(hours=1) <= r.minute < row.minute]
        expected = {}
        for measure, metric, ceiling in (
            (Measure.RATE, "requests_per_s", None),
            (Measure.ERRORS, "error_ratio", 1.0),
            (Measure.LATENCY, "p95_ms", None),
        ):
            values = [getattr(r, metric) for r in hour if is_healthy(r.minute, spoiled.get(measure, []))]
            expected[metric] = robust_range(values, ceiling=ceiling) if len(values) >= 10 else None
        if all(value is None for value in expected.values()):
            assert band is None, row.minute
        else:
            assert band is not None, row.minute
            for metric, value in expected.items():
                assert getattr(band, metric) == (value if value is None else pytest.approx(value)), (
                    row,
                    metric,
                )
