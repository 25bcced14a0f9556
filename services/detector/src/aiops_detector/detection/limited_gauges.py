"""Which gauges have a known limit: pairs of metric series the conventions of OpenTelemetry name
together, found among a service's series.

- `X.usage` and `X.limit` (`process.memory.usage` and `process.memory.limit`,
  `system.filesystem.usage` and `.limit`);
- `X.count` and `X.max` (`db.client.connection.count` and `db.client.connection.max`).

Both of one instance of one service, with the same attributes, except that the usage may carry a
state (`db.client.connection.state`, `system.filesystem.state`): only its `used` state counts
against the limit, whose series has no state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import JsonValue

from aiops_detector.detection.metric_steps import MetricSeries, series_label

SUFFIXES = ((".usage", ".limit"), (".count", ".max"))
USED = "used"
# Shortened in an anomaly's name: "pool.name=stock-db" says enough.
_POOL_PREFIX = "db.client.connection."


@dataclass(frozen=True)
class LimitedGauge:
    usage: MetricSeries
    limit: MetricSeries

    @property
    def operation(self) -> str:
        """What an anomaly of it is called: the usage's name, what tells it from its siblings, and
        its instance ("db.client.connection.count pool.name=stock-db on inventory-1")."""
        shown = [(key.removeprefix(_POOL_PREFIX), value) for key, value in _stateless(self.usage)]
        return series_label(self.usage.name, shown, self.usage.instance)


def _is_state(key: str) -> bool:
    return key == "state" or key.endswith(".state")


def _stateless(series: MetricSeries) -> list[tuple[str, JsonValue]]:
    return sorted((key, value) for key, value in series.attributes.items() if not _is_state(key))


def _key(series: MetricSeries, name: str) -> tuple[str, str | None, str, str]:
    return (series.service, series.instance, name, repr(_stateless(series)))


def limited_gauges(series: Iterable[MetricSeries]) -> list[LimitedGauge]:
    """Every usage series (in its `used` state, if it has states) paired with its limit."""
    known = list(series)
    limits = {_key(one, one.name): one for one in known if not any(_is_state(k) for k in one.attributes)}
    pairs = []
    for one in known:
        states = [value for key, value in one.attributes.items() if _is_state(key)]
        if states and states != [USED]:
            continue
        for usage_suffix, limit_suffix in SUFFIXES:
            if one.name.endswith(usage_suffix):
                limit = limits.get(_key(one, one.name.removesuffix(usage_suffix) + limit_suffix))
                if limit is not None:
                    pairs.append(LimitedGauge(one, limit))
    return pairs
