from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiops_detector.detection.baselines import Baseline, RollupRow, history_ranges, learn_baseline

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def row(minute: int, requests: int = 600, errors: int = 3, p50: float = 40, p95: float = 90) -> RollupRow:
    start = T0 + minute * MINUTE
    return RollupRow(start, requests, errors, p50, p95, first_start=start, covered_until=start + MINUTE)


def test_robust_statistics_ignore_a_minute_of_outage() -> None:
    rows = [row(m) for m in range(10)] + [row(10, errors=600, p50=900, p95=2000)]
    baseline = learn_baseline(rows, seasonal=False, born=None)
    assert baseline is not None
    assert baseline.error_ratio == 0.005
    assert baseline.p50_ms.median == 40
    assert baseline.rate_per_s.median == 10
    assert baseline.covered_s == 11 * 60


def test_a_new_series_counts_its_first_minute_from_its_birth() -> None:
    born = T0 + timedelta(seconds=30)
    first = RollupRow(T0, 300, 0, 40, 90, first_start=born, covered_until=T0 + MINUTE)
    in_progress = RollupRow(
        T0 + MINUTE, 200, 0, 40, 90, first_start=T0 + MINUTE, covered_until=T0 + 1.5 * MINUTE
    )
    baseline = learn_baseline([first, in_progress], seasonal=False, born=born)
    assert baseline is not None
    assert baseline.covered_s == 60
    assert baseline.rate_per_s.median == 300 / 30 / 2 + 200 / 30 / 2


def test_no_rows_no_baseline_and_a_baseline_survives_its_cache_form() -> None:
    assert learn_baseline([], seasonal=False, born=None) is None
    baseline = learn_baseline([row(m) for m in range(3)], seasonal=True, born=None)
    assert baseline is not None
    assert Baseline.from_json(baseline.to_json()) == baseline


def test_seasonal_history_starts_after_a_day_and_narrows_to_the_weekday_after_a_week() -> None:
    recent = timedelta(hours=1)
    assert history_ranges(T0, recent, T0 - timedelta(hours=5)).seasonal == []
    three_days = history_ranges(T0, recent, T0 - timedelta(days=3)).seasonal
    assert [(T0 - lo).days for lo, _ in three_days] == [1, 2, 3]
    assert all(hi - lo == timedelta(hours=1) for lo, hi in three_days)
    weeks = history_ranges(T0, recent, T0 - timedelta(days=30)).seasonal
    assert [round((T0 - lo) / timedelta(days=1)) for lo, _ in weeks] == [7, 14]
