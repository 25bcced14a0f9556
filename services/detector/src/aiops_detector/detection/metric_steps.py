"""A metric series as one number per step, the value the live scorer judges (`metric_watch.py`).

Points arrive at whatever interval their exporter chose; the scorer wants one value per fixed
step (points aligned to the epoch, `[t, t + step)` by each point's time). What the value is
depends on how the series is stored:

- a level (a gauge, an up-down counter): the mean of the step's values;
- deltas of a sum (a counter): the rate per second, the deltas' sum over the seconds they cover
  (so that two exports in one step and one in the next do not read as a doubling);
- deltas of a histogram or summary: the mean observation, sum over count; a step with no
  observation has no value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydantic import JsonValue

DELTA = "delta"
DISTRIBUTIONS = frozenset({"histogram", "exponential_histogram", "summary"})


@dataclass(frozen=True)
class MetricSeries:
    series_id: int
    service: str
    instance: str | None
    name: str
    kind: str
    temporality: str | None
    attributes: dict[str, JsonValue]

    @property
    def operation(self) -> str:
        """What an anomaly of it is called: its name, its attributes and its instance
        ("db.client.connection.count db.client.connection.state=used on inventory-1")."""
        return series_label(self.name, sorted(self.attributes.items()), self.instance)

    @property
    def measure(self) -> str:
        """What its step values are: `mean` of a distribution, `rate_per_s` of a counter, or
        `value` of a level."""
        if self.kind in DISTRIBUTIONS:
            return "mean"
        return "rate_per_s" if self.temporality == DELTA else "value"


def series_label(name: str, attributes: Iterable[tuple[str, JsonValue]], instance: str | None) -> str:
    """ "name key=value ... on instance", how anomalies name a metric series."""
    shown = [f"{key}={value}" for key, value in attributes]
    where = f" on {instance}" if instance else ""
    return " ".join([name, *shown]) + where


@dataclass(frozen=True)
class StoredPoint:
    # Seconds since the epoch: the point's time and, for a delta, the start of what it covers.
    at: float
    start: float | None
    value: float | None
    count: float | None
    total: float | None


def step_values(
    series: MetricSeries, points: Iterable[StoredPoint], step_s: float, *, after: float, until: float
) -> Iterator[tuple[float, float]]:
    """(step start, value) of each step that starts at or after `after` and ends by `until`,
    oldest first, for the steps that have a value; `points` are the series' own, oldest first."""
    steps: dict[float, list[StoredPoint]] = {}
    for point in points:
        start = math.floor(point.at / step_s) * step_s
        if start >= after and start + step_s <= until:
            steps.setdefault(start, []).append(point)
    for start in sorted(steps):
        value = _value(series.measure, steps[start], step_s)
        if value is not None and math.isfinite(value):
            yield start, value


def _value(measure: str, points: list[StoredPoint], step_s: float) -> float | None:
    if measure == "mean":
        count = sum(p.count or 0.0 for p in points)
        return sum(p.total or 0.0 for p in points) / count if count > 0 else None
    values = [p for p in points if p.value is not None]
    if not values:
        return None
    if measure == "rate_per_s":
        covered = sum((p.at - p.start) if p.start is not None and p.at > p.start else step_s for p in values)
        return sum(p.value or 0.0 for p in values) / covered
    return sum(p.value or 0.0 for p in values) / len(values)
