from __future__ import annotations

import random
from datetime import UTC, datetime

from aiops_core.healthy_time import Trouble
from aiops_core.models import AnomalyKind
from aiops_core.windows import SlotDelta
from aiops_detector.detection.multivariate import (
    IsolationForestDetector,
    features,
    fit,
    healthy_starts,
    sliding_windows,
)


def second(
    rng: random.Random, *, rate: int = 10, error_ratio: float = 0.005, latency_ms: float = 40
) -> SlotDelta:
    delta = SlotDelta()
    for _ in range(rate):
        delta.requests += 1
        delta.errors += rng.random() < error_ratio
        delta.latency.add(rng.lognormvariate(0, 0.4) * latency_ms)
    return delta


def model_of_normal_traffic(rng: random.Random):  # type: ignore[no-untyped-def]
    seconds = [second(rng, rate=rng.randint(8, 12)) for _ in range(900)]
    samples = [s for w in sliding_windows(seconds, 10, 5) if (s := features(w, 10)) is not None]
    model = fit(samples)
    assert model is not None
    return model


def surprise(detector: IsolationForestDetector, model, seconds: list[SlotDelta]) -> float:  # type: ignore[no-untyped-def]
    finding = detector.evaluate(model, sliding_windows(seconds, 10, 10)[0], 10)
    assert finding is not None
    assert finding.kind is AnomalyKind.MULTIVARIATE
    return finding.surprise


def test_a_window_unlike_its_history_is_more_surprising_than_nearly_every_usual_one() -> None:
    rng = random.Random(1)
    model = model_of_normal_traffic(rng)
    detector = IsolationForestDetector()
    usual = sorted(surprise(detector, model, [second(rng) for _ in range(10)]) for _ in range(200))
    failing = surprise(detector, model, [second(rng, error_ratio=0.5, latency_ms=400) for _ in range(10)])
    assert usual[100] < 0.5
    assert failing > usual[180]


def test_too_little_history_fits_no_model() -> None:
    assert fit([[1.0, 0.0, 3.0, 4.0]] * 10) is None


def test_windows_overlapping_an_anomaly_do_not_teach_the_model() -> None:
    now_s = 1_000
    at = datetime.fromtimestamp
    troubles = [
        # Cleared at 500; open from 5 s before its start on.
        Trouble(AnomalyKind.ERROR_RATIO, at(400, UTC), at(500, UTC)),
        Trouble(AnomalyKind.LATENCY, at(900, UTC), None),
    ]
    starts = [380, 386, 390, 395, 500, 505, 880, 886, 890, 990]
    assert healthy_starts(starts, 10, troubles, now_s) == [
        True,  # 380-390: ends before 395
        False,  # 386-396 reaches into the lead before its start
        False,
        False,
        True,  # from the moment it cleared
        True,
        True,
        False,  # 886-896 reaches into the lead of the open one
        False,
        False,
    ]
