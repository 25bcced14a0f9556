import random

import pytest

from aiops_shop.faults import Behaviour, InjectedFailureError


def behaviour(**overrides: float) -> Behaviour:
    settings = {"median_latency_ms": 40.0, "natural_error_rate": 0.0, **overrides}
    return Behaviour(failure_message="card processor timed out", rng=random.Random(1), **settings)


def test_latency_centres_on_the_median_with_a_tail() -> None:
    shop = behaviour()
    samples = sorted(shop.latency_s() * 1000 for _ in range(5000))
    assert 36 < samples[2500] < 44
    assert samples[4750] > 60  # p95 well above the median: a tail, not a constant


def test_injected_latency_adds_to_every_request() -> None:
    shop = behaviour(jitter=0.0)
    shop.added_latency_ms = 300
    assert shop.latency_s() == pytest.approx(0.340)


@pytest.mark.parametrize(
    ("natural", "injected", "expected"), [(0.0, 0.0, 0.0), (0.0, 0.5, 0.5), (0.1, 0.5, 0.55)]
)
def test_failure_rate_combines_natural_and_injected(natural: float, injected: float, expected: float) -> None:
    shop = behaviour(natural_error_rate=natural)
    shop.error_rate = injected
    failures = sum(shop.fails() for _ in range(20_000)) / 20_000
    assert failures == pytest.approx(expected, abs=0.015)


async def test_perform_raises_when_the_request_fails() -> None:
    shop = behaviour(median_latency_ms=0.0)
    shop.error_rate = 1.0
    with pytest.raises(InjectedFailureError, match="card processor timed out"):
        await shop.perform()
    shop.reset()
    await shop.perform()
    assert shop.state().model_dump() == {"error_rate": 0.0, "latency_ms": 0.0}
