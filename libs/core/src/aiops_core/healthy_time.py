"""Only healthy time teaches: which minutes of a series may enter which of its baselines.

A minute in which the series had an open anomaly of a kind does not teach the measures that kind
spoils, so a fault can never become normal however long it lasts: a baseline learns from the
healthy minutes it has and says how much that was. The detector's baselines and the usual bands
the incidents API draws apply the same rule, from this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from aiops_core.models import AnomalyKind

MINUTE = timedelta(minutes=1)
# An anomaly's start is its first second out of line as the detector saw it; the seconds just
# before may already carry the fault's first requests.
LEAD = timedelta(seconds=5)

# [start, end) of a stretch of time.
Period = tuple[datetime, datetime]


class Measure(StrEnum):
    """What a baseline learns of a series, each from its own healthy minutes."""

    RATE = "rate"
    ERRORS = "errors"
    LATENCY = "latency"


# The kinds whose open time a measure does not learn from. A failing series answers faster (or,
# timing out, slower) than usual, so an error anomaly spoils its latency as well.
SPOILED_BY: dict[Measure, frozenset[AnomalyKind]] = {
    Measure.RATE: frozenset({AnomalyKind.TRAFFIC_DROP, AnomalyKind.TRAFFIC_SURGE}),
    Measure.ERRORS: frozenset({AnomalyKind.ERROR_RATIO}),
    Measure.LATENCY: frozenset({AnomalyKind.LATENCY, AnomalyKind.ERROR_RATIO}),
}

# The measure each per-series kind is judged on (and re-based on, when accepted as normal).
MEASURE_OF: dict[AnomalyKind, Measure] = {
    AnomalyKind.ERROR_RATIO: Measure.ERRORS,
    AnomalyKind.LATENCY: Measure.LATENCY,
    AnomalyKind.TRAFFIC_DROP: Measure.RATE,
    AnomalyKind.TRAFFIC_SURGE: Measure.RATE,
}


@dataclass(frozen=True)
class Trouble:
    """A period in which a series had an open anomaly of a kind (`until` None: still open)."""

    kind: AnomalyKind
    since: datetime
    until: datetime | None


def troubled(start: datetime, end: datetime, troubles: Iterable[Trouble]) -> bool:
    """Whether [start, end) overlaps any of the troubles (one still open lasts until now)."""
    return any(t.since < end and (t.until is None or t.until > start) for t in troubles)


def spoiled_periods(troubles: Iterable[Trouble], measure: Measure, now: datetime) -> list[Period]:
    """The periods, merged and sorted, that must not teach `measure`."""
    periods = sorted((t.since - LEAD, t.until or now) for t in troubles if t.kind in SPOILED_BY[measure])
    merged: list[Period] = []
    for lo, hi in periods:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def spoiled_by_measure(troubles: Iterable[Trouble], now: datetime) -> dict[Measure, list[Period]]:
    """The periods, merged and sorted, that must not teach each measure."""
    troubles = list(troubles)
    return {measure: spoiled_periods(troubles, measure, now) for measure in Measure}


def is_healthy(minute: datetime, spoiled: Sequence[Period]) -> bool:
    """Whether the minute starting at `minute` overlaps none of the spoiled periods."""
    end = minute + MINUTE
    return not any(lo < end and minute < hi for lo, hi in spoiled)


def _whole_minutes(spoiled: Sequence[Period]) -> list[Period]:
    """The spoiled periods widened to the whole minutes they touch (a minute partly spoiled does
    not teach), merged."""
    widened: list[Period] = []
    for lo, hi in spoiled:
        start = lo.replace(second=0, microsecond=0)
        end = (
            hi if hi == hi.replace(second=0, microsecond=0) else hi.replace(second=0, microsecond=0) + MINUTE
        )
        if widened and start <= widened[-1][1]:
            widened[-1] = (widened[-1][0], max(widened[-1][1], end))
        else:
            widened.append((start, end))
    return widened


def look_back(now: datetime, span: timedelta, spoiled: Sequence[Period], limit: datetime) -> datetime:
    """Where a history of `span` of healthy time before `now` begins: as much further back as
    the minutes spoiled within it take, but never before `limit`."""
    lost_minutes = _whole_minutes(spoiled)
    start = now - span
    while start > limit:
        within = [(max(lo, start), min(hi, now)) for lo, hi in lost_minutes if lo < now and hi > start]
        wanted = now - span - sum((hi - lo for lo, hi in within), timedelta())
        if wanted >= start:
            break
        start = wanted
    return max(start, limit)
