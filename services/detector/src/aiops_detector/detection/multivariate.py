"""A multivariate model per service: scikit-learn's IsolationForest on (request rate, error
ratio, p50, p95) of the service's recent windows.

It is fitted on the service's own windows of the last minutes (sliding windows over the per-second
slots in Redis), periodically and in a worker thread, never on the event loop. Only healthy
windows teach it: a window overlapping an anomaly of the service (of any kind, from 5 s before
its start) is left out, as for the baselines (`aiops_core.healthy_time`). A window is
surprising when the forest isolates it faster than every window it was fitted on: the surprise
is 1.0 when its score exceeds the highest training score by `margin` of the spread.

Measured, it is off by default: isolation depth saturates, so a window far outside the history
(every request failing, ten times slower) scores little more than the rarest normal windows, and
no threshold separates the two (see the README's Detection section).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sklearn.ensemble import IsolationForest

from aiops_core.healthy_time import LEAD, Trouble
from aiops_core.models import AnomalyKind
from aiops_core.windows import Series, SlotDelta
from aiops_detector.detection.detectors import Finding
from aiops_detector.detection.window_store import WindowStore, merge_slots

FEATURES = ("rate_per_s", "error_ratio", "p50_ms", "p95_ms")


def features(window: SlotDelta, window_s: float) -> list[float] | None:
    if window.requests == 0:
        return None
    p50, p95 = window.latency.quantiles((0.5, 0.95))
    assert p50 is not None
    assert p95 is not None
    # Logs of the rate and latencies: a doubling weighs the same at any level.
    return [
        math.log1p(window.requests / window_s),
        window.errors / window.requests,
        math.log(p50),
        math.log(p95),
    ]


def sliding_windows(slots: Sequence[SlotDelta], width: int, step: int) -> list[SlotDelta]:
    return [merge_slots(slots[i : i + width]) for i in range(0, len(slots) - width + 1, step)]


@dataclass(frozen=True)
class FittedModel:
    forest: IsolationForest
    typical: float  # median training score
    highest: float  # highest training score

    def surprise(self, sample: list[float], margin: float) -> float:
        score = float(-self.forest.score_samples(np.array([sample]))[0])
        spread = max(self.highest - self.typical, 1e-6)
        return (score - self.typical) / (spread * (1 + margin))


def fit(samples: list[list[float]], *, seed: int = 0) -> FittedModel | None:
    """Fit on the samples (blocking: call it from a worker thread); None with too few."""
    if len(samples) < 30:
        return None
    matrix = np.array(samples)
    forest = IsolationForest(n_estimators=100, random_state=seed).fit(matrix)
    scores = -forest.score_samples(matrix)
    return FittedModel(forest, float(np.median(scores)), float(scores.max()))


@dataclass(frozen=True)
class IsolationForestDetector:
    margin: float = 0.0

    def evaluate(self, model: FittedModel, window: SlotDelta, window_s: float) -> Finding | None:
        sample = features(window, window_s)
        if sample is None:
            return None
        observed: dict[str, float | None] = dict(zip(FEATURES, sample, strict=True))
        return Finding(AnomalyKind.MULTIVARIATE, model.surprise(sample, self.margin), observed, {})


# The anomalies of a service open at some time since a moment.
TroublesOf = Callable[[str, datetime], Awaitable[list[Trouble]]]


def healthy_starts(starts: Sequence[int], width: int, troubles: Sequence[Trouble], now_s: int) -> list[bool]:
    """For each window (its first second, `width` long), whether it overlaps no trouble."""
    spoiled = [
        (
            (t.since - LEAD).timestamp(),
            t.until.timestamp() if t.until is not None else now_s + 1,
        )
        for t in troubles
    ]
    return [not any(lo < start + width and start < hi for lo, hi in spoiled) for start in starts]


class ServiceModels:
    """One fitted forest per service, refitted every `refit_s` on its healthy windows of the
    last `history_s` (each window `window_s` long, one every `step_s`)."""

    def __init__(
        self,
        windows: WindowStore,
        troubles: TroublesOf,
        *,
        history_s: int,
        window_s: int,
        step_s: int = 5,
        refit_s: float = 60.0,
    ) -> None:
        self._windows = windows
        self._troubles = troubles
        self._history_s = history_s
        self._window_s = window_s
        self._step_s = step_s
        self._refit_s = refit_s
        self._models: dict[str, FittedModel | None] = {}
        self._fitted_at: dict[str, float] = {}

    def model(self, service: str) -> FittedModel | None:
        return self._models.get(service)

    async def refit_due(self, now_s: int, series_by_service: dict[str, list[Series]]) -> None:
        for service, series in series_by_service.items():
            if time.monotonic() - self._fitted_at.get(service, -math.inf) < self._refit_s:
                continue
            self._fitted_at[service] = time.monotonic()
            first_s = now_s - self._history_s
            slots = await self._windows.read_slots(series, first_s, now_s - 1)
            merged = [
                merge_slots([by_slot[s] for by_slot in slots.values()])
                for s in sorted(next(iter(slots.values())))
            ]
            windows = sliding_windows(merged, self._window_s, self._step_s)
            starts = [first_s + i * self._step_s for i in range(len(windows))]
            troubles = await self._troubles(service, datetime.fromtimestamp(first_s, UTC))
            healthy = healthy_starts(starts, self._window_s, troubles, now_s)
            samples = [
                sample
                for window, ok in zip(windows, healthy, strict=True)
                if ok and (sample := features(window, self._window_s)) is not None
            ]
            self._models[service] = await asyncio.to_thread(fit, samples)
