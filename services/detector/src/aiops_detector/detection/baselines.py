"""What normal looks like for one series, learned from its per-minute rollups.

Robust statistics over healthy minutes only: the median and MAD of the request rate, p50 and
p95, and the median error ratio. Each measure learns from the minutes in which the series had no
open anomaly spoiling it (`aiops_core.healthy_time`): the latest `recent` of such time, reaching
further back for as long as faults took, plus, once a day of history exists, the same time of day
on earlier days (the same weekday once a week exists), so that a daily or weekly rhythm is part
of normal. An operator who accepts a lasting change as normal re-bases a measure: it learns only
from the minutes after that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from aiops_core.healthy_time import (
    MEASURE_OF,
    Measure,
    Period,
    Trouble,
    is_healthy,
    look_back,
    spoiled_by_measure,
)
from aiops_core.models import AnomalyKind
from aiops_detector.detection.robust import median, median_absolute_deviation

MINUTE = timedelta(minutes=1)
SEASONAL_HALF_WIDTH = timedelta(minutes=30)


@dataclass(frozen=True)
class RollupRow:
    minute: datetime
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    first_start: datetime
    # Rows of the minute in progress are rolled up again and again; this is how far they cover.
    covered_until: datetime


@dataclass(frozen=True)
class RobustStat:
    median: float
    mad: float

    @classmethod
    def of(cls, values: Sequence[float]) -> RobustStat | None:
        if not values:
            return None
        centre = median(values)
        return cls(centre, median_absolute_deviation(values, centre))


@dataclass(frozen=True)
class Baseline:
    """Each measure's usual values (None without a healthy minute to learn them from) and the
    seconds of healthy history each was learned from."""

    rate_per_s: RobustStat | None = None
    error_ratio: float | None = None
    p50_ms: RobustStat | None = None
    p95_ms: RobustStat | None = None
    history_s: Mapping[Measure, float] = field(default_factory=dict)
    seasonal: bool = False
    # When an operator last accepted a lasting change of a measure as normal: its floor no longer
    # judges the series (its new normal may lie beyond it); its baseline learns from then on.
    accepted_at: Mapping[Measure, datetime] = field(default_factory=dict)

    @property
    def accepted(self) -> frozenset[Measure]:
        return frozenset(self.accepted_at)

    def learned(self, measure: Measure, min_history_s: float) -> bool:
        return self.history_s.get(measure, 0.0) >= min_history_s

    def keeping(self, earlier: Baseline | None, min_history_s: float) -> Baseline:
        """This baseline, with each measure it has not learned (its healthy history having
        shrunk: a fault soon after it learned spoiled the minutes it had) taken from an earlier
        baseline that had learned it, unless the measure was accepted as normal since. Once a
        measure has an opinion it keeps one, so a fault cannot outlast it."""
        if earlier is None:
            return self
        kept = self
        for measure in Measure:
            if (
                not self.learned(measure, min_history_s)
                and earlier.learned(measure, min_history_s)
                and earlier.accepted_at.get(measure) == self.accepted_at.get(measure)
            ):
                values = {name: getattr(earlier, name) for name in _FIELDS_OF[measure]}
                kept = replace(
                    kept, **values, history_s={**kept.history_s, measure: earlier.history_s[measure]}
                )
        return kept

    def to_json(self) -> dict[str, Any]:
        stats = {name: _stat_json(getattr(self, name)) for name in ("rate_per_s", "p50_ms", "p95_ms")}
        history = {measure.value: seconds for measure, seconds in self.history_s.items()}
        return {
            **stats,
            "error_ratio": self.error_ratio,
            "history_s": history,
            "seasonal": self.seasonal,
            "accepted_at": {measure.value: at.isoformat() for measure, at in self.accepted_at.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Baseline:
        return cls(
            rate_per_s=_stat(data["rate_per_s"]),
            error_ratio=data["error_ratio"],
            p50_ms=_stat(data["p50_ms"]),
            p95_ms=_stat(data["p95_ms"]),
            history_s={Measure(name): seconds for name, seconds in data["history_s"].items()},
            seasonal=data["seasonal"],
            accepted_at={
                Measure(name): datetime.fromisoformat(at) for name, at in data.get("accepted_at", {}).items()
            },
        )


# The fields of a baseline each measure learns.
_FIELDS_OF: dict[Measure, tuple[str, ...]] = {
    Measure.RATE: ("rate_per_s",),
    Measure.ERRORS: ("error_ratio",),
    Measure.LATENCY: ("p50_ms", "p95_ms"),
}


def _stat_json(stat: RobustStat | None) -> dict[str, float] | None:
    return None if stat is None else {"median": stat.median, "mad": stat.mad}


def _stat(data: dict[str, float] | None) -> RobustStat | None:
    return None if data is None else RobustStat(**data)


def seasonal_ranges(now: datetime, first_seen: datetime | None) -> list[Period]:
    """The same time of day on earlier days when the series is older than a day (only the same
    weekday when it is older than a week), up to two weeks back."""
    ranges: list[Period] = []
    age = now - first_seen if first_seen is not None else timedelta(0)
    if age >= timedelta(days=1):
        step = timedelta(days=7) if age >= timedelta(days=7) else timedelta(days=1)
        back = step
        while back <= min(age, timedelta(days=14)):
            ranges.append((now - back - SEASONAL_HALF_WIDTH, now - back + SEASONAL_HALF_WIDTH))
            back += step
    return ranges


def select_history(
    rows: Sequence[RollupRow],
    *,
    spoiled: Sequence[Period],
    recent_from: datetime,
    seasonal: Sequence[Period],
    learn_from: datetime | None,
) -> list[RollupRow]:
    """The rows that teach one measure: healthy for it, from `learn_from` on (when an operator
    accepted a change as normal), and either recent (from `recent_from`) or in a seasonal range."""
    return [
        row
        for row in rows
        if (learn_from is None or row.minute >= learn_from)
        and (row.minute >= recent_from or any(lo <= row.minute < hi for lo, hi in seasonal))
        and is_healthy(row.minute, spoiled)
    ]


def learn_baseline(
    history: Mapping[Measure, Sequence[RollupRow]], *, seasonal: bool, born: datetime | None
) -> Baseline:
    """A baseline from each measure's rows. `born` is when the series was first seen: its first
    minute counts only from then."""
    return Baseline(
        rate_per_s=RobustStat.of(_rates(history.get(Measure.RATE, ()), born)),
        # The median minute, not the pooled ratio: a stray burst of failures that no detector
        # flagged must not move what is usual.
        error_ratio=_median_or_none(
            [row.errors / row.requests for row in history.get(Measure.ERRORS, ()) if row.requests]
        ),
        p50_ms=RobustStat.of([row.p50_ms for row in history.get(Measure.LATENCY, ())]),
        p95_ms=RobustStat.of([row.p95_ms for row in history.get(Measure.LATENCY, ())]),
        history_s={measure: _covered_s(rows, born) for measure, rows in history.items()},
        seasonal=seasonal,
    )


def _covered(row: RollupRow, born: datetime | None) -> float:
    start = max(row.minute, born) if born is not None else row.minute
    end = min(row.minute + MINUTE, row.covered_until)
    return (end - start).total_seconds()


def _covered_s(rows: Sequence[RollupRow], born: datetime | None) -> float:
    return sum(covered for row in rows if (covered := _covered(row, born)) >= 1)


def _rates(rows: Sequence[RollupRow], born: datetime | None) -> list[float]:
    return [row.requests / covered for row in rows if (covered := _covered(row, born)) >= 1]


def _median_or_none(values: Sequence[float]) -> float | None:
    return median(values) if values else None


@dataclass(frozen=True)
class HistoryPlan:
    """Which of a series' rollups teach each of its measures at `now`."""

    now: datetime
    first_seen: datetime
    spoiled: Mapping[Measure, Sequence[Period]]
    recent_from: Mapping[Measure, datetime]
    learn_from: Mapping[Measure, datetime | None]
    seasonal: Sequence[Period]

    @classmethod
    def of(
        cls,
        now: datetime,
        recent: timedelta,
        first_seen: datetime,
        troubles: Sequence[Trouble],
        accepted: Mapping[AnomalyKind, datetime],
    ) -> HistoryPlan:
        """`recent` of healthy time for each measure, reaching back past its spoiled periods
        (never before the series' first minute, nor before a kind was accepted as normal)."""
        learn_from = {
            measure: max(
                (at for kind, at in accepted.items() if MEASURE_OF.get(kind) is measure), default=None
            )
            for measure in Measure
        }
        spoiled = spoiled_by_measure(troubles, now)
        first_minute = first_seen.replace(second=0, microsecond=0)
        # From the start of the minute it falls in: `recent` of whole minutes, and the one in progress.
        recent_from = {
            measure: look_back(
                now, recent, spoiled[measure], limit=max(first_minute, learn_from[measure] or first_minute)
            ).replace(second=0, microsecond=0)
            for measure in Measure
        }
        return cls(now, first_seen, spoiled, recent_from, learn_from, seasonal_ranges(now, first_seen))

    def ranges(self) -> list[Period]:
        """The periods whose rollups the plan needs."""
        return [(min(self.recent_from.values()), self.now), *self.seasonal]

    def learn(self, rows: Sequence[RollupRow]) -> Baseline:
        history = {
            measure: select_history(
                rows,
                spoiled=self.spoiled[measure],
                recent_from=self.recent_from[measure],
                seasonal=self.seasonal,
                learn_from=self.learn_from[measure],
            )
            for measure in Measure
        }
        born = self.first_seen if self.first_seen >= min(self.recent_from.values()) else None
        baseline = learn_baseline(history, seasonal=bool(self.seasonal), born=born)
        accepted_at = {measure: at for measure, at in self.learn_from.items() if at is not None}
        return replace(baseline, accepted_at=accepted_at)
