"""Cumulative metric points turned into deltas, with reset detection.

A cumulative point says "this much since `start`". Its delta is the difference from the series'
previous point, over the interval between the two. The series restarted (a process restart
resets its counters) when its start time changed or a value went down; the point then counts
whole, from its start (or, if the sender gives none, from the previous point). A point no later
than the one before it adds nothing: what it counted is already in the later one (`superseded`).
The first point of a series without a start time only sets where counting begins
(`no_reference`).

Pure: the state comes from, and goes back to, the series' row (`metric_series.cumulative_*`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Cumulative:
    """A cumulative point's values at `time_ns`, counted since `start_ns` (0: unknown)."""

    start_ns: int
    time_ns: int
    value: float | None = None
    count: float | None = None
    sum: float | None = None
    buckets: tuple[float, ...] | None = None
    bounds: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Delta:
    """What happened over [start_ns, time_ns]."""

    start_ns: int
    time_ns: int
    value: float | None
    count: float | None
    sum: float | None
    buckets: tuple[float, ...] | None


class Skipped(StrEnum):
    SUPERSEDED = "superseded"
    NO_REFERENCE = "no_reference"


def delta_of(point: Cumulative, previous: Cumulative | None) -> Delta | Skipped:
    if previous is None:
        if point.start_ns == 0:
            return Skipped.NO_REFERENCE
        return _whole(point, point.start_ns)
    if point.start_ns and point.start_ns < previous.start_ns:
        return Skipped.SUPERSEDED  # from before the series' latest restart
    if point.start_ns > previous.start_ns:
        return _whole(point, point.start_ns)  # restarted, and said so
    if point.time_ns <= previous.time_ns:
        return Skipped.SUPERSEDED
    if _went_down(point, previous):
        return _whole(point, previous.time_ns)
    return Delta(
        start_ns=previous.time_ns,
        time_ns=point.time_ns,
        value=_minus(point.value, previous.value),
        count=_minus(point.count, previous.count),
        sum=_minus(point.sum, previous.sum),
        buckets=(
            tuple(now - before for now, before in zip(point.buckets, previous.buckets, strict=True))
            if point.buckets is not None and previous.buckets is not None
            else point.buckets
        ),
    )


def _whole(point: Cumulative, since_ns: int) -> Delta:
    return Delta(since_ns, point.time_ns, point.value, point.count, point.sum, point.buckets)


def _went_down(point: Cumulative, previous: Cumulative) -> bool:
    """A reset the sender did not signal with a new start time, or buckets that changed shape."""
    if point.bounds != previous.bounds or (point.buckets is None) != (previous.buckets is None):
        return True
    if point.buckets is not None and previous.buckets is not None:
        if len(point.buckets) != len(previous.buckets):
            return True
        if any(now < before for now, before in zip(point.buckets, previous.buckets, strict=True)):
            return True
    return any(
        now is not None and before is not None and now < before
        for now, before in ((point.value, previous.value), (point.count, previous.count))
    )


def _minus(now: float | None, before: float | None) -> float | None:
    if now is None:
        return None
    return now - before if before is not None else now
