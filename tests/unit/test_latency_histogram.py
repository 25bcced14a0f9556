from __future__ import annotations

import random

import pytest

from aiops_core.sketch import RELATIVE_ACCURACY, LatencyHistogram


def exact_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


@pytest.mark.parametrize("q", [0.5, 0.95, 0.99])
def test_quantiles_are_within_the_relative_accuracy(q: float) -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(3.5, 0.6) for _ in range(5000)]
    histogram = LatencyHistogram()
    for value in values:
        histogram.add(value)
    estimate = histogram.quantile(q)
    assert estimate is not None
    assert abs(estimate - exact_quantile(values, q)) <= RELATIVE_ACCURACY * exact_quantile(values, q) * 1.01


def test_merging_two_histograms_equals_one_built_from_all_values() -> None:
    rng = random.Random(3)
    first, second, both = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    for i in range(2000):
        value = rng.expovariate(1 / 40)
        (first if i % 2 else second).add(value)
        both.add(value)
    first.merge(second)
    assert first.counts == both.counts
    assert first.total == 2000


def test_an_empty_histogram_has_no_quantile_and_tiny_durations_share_a_bucket() -> None:
    histogram = LatencyHistogram()
    assert histogram.quantile(0.5) is None
    histogram.add(0.0)
    histogram.add(0.0000001)
    assert len(histogram.counts) == 1
