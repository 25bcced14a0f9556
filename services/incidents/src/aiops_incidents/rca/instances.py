"""Whether one instance of a service carries the trouble while its siblings do not.

A bad pod (a noisy node, a bad disk, a poisoned cache) moves its service's series only a little;
the fix is to delete that pod, not to roll back a release. So once a service series ranks as a
cause, its requests during the trouble are broken down by instance, and the cause is named at the
instance when one stands out from its siblings:

- latency: its p95 is at least twice its siblings' (the median of their p95s) and MIN_EXCESS_MS
  more;
- errors: it fails at least MIN_ERROR_RATIO of its requests, at least three times as often as
  its siblings together, and holds most of the series' errors.

A fault of the whole release moves every instance alike, and no instance stands out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiops_core.models import AnomalyKind

# Instances shown by name, by traffic; the rest are folded into one row.
MAX_INSTANCES = 8
# An instance needs this many requests in the period to be judged at all.
MIN_REQUESTS = 5
LATENCY_FACTOR = 2.0
MIN_EXCESS_MS = 20.0
MIN_ERROR_RATIO = 0.05
ERROR_FACTOR = 3.0
MIN_ERROR_SHARE = 0.6


@dataclass(frozen=True)
class InstanceStats:
    instance: str
    requests: int
    errors: int
    p95_ms: float | None

    @property
    def error_ratio(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class InstanceCause:
    instance: str
    sentence: str  # 'payment-2: p95 340 ms, siblings 41 ms; 1 of 2 instances'


def folded(stats: Sequence[InstanceStats], keep: int = MAX_INSTANCES) -> list[InstanceStats]:
    """The busiest `keep` instances, and the rest as one row 'other (N)' (its p95 the worst)."""
    busiest = sorted(stats, key=lambda s: (-s.requests, s.instance))
    named, rest = busiest[:keep], busiest[keep:]
    if not rest:
        return named
    p95s = [s.p95_ms for s in rest if s.p95_ms is not None]
    other = InstanceStats(
        instance=f"other ({len(rest)})",
        requests=sum(s.requests for s in rest),
        errors=sum(s.errors for s in rest),
        p95_ms=max(p95s) if p95s else None,
    )
    return [*named, other]


def instance_cause(stats: Sequence[InstanceStats], kind: AnomalyKind) -> InstanceCause | None:
    """The instance that carries trouble of this kind, if one does (None for one instance)."""
    judged = [s for s in stats if s.requests >= MIN_REQUESTS]
    if len(judged) < 2:
        return None
    if kind is AnomalyKind.LATENCY:
        return _slow_instance(judged)
    if kind is AnomalyKind.ERROR_RATIO:
        return _failing_instance(judged)
    return None


def _slow_instance(judged: Sequence[InstanceStats]) -> InstanceCause | None:
    timed = [s for s in judged if s.p95_ms is not None]
    if len(timed) < 2:
        return None
    worst = max(timed, key=lambda s: s.p95_ms or 0.0)
    siblings = sorted(s.p95_ms or 0.0 for s in timed if s is not worst)
    usual = siblings[len(siblings) // 2]
    p95 = worst.p95_ms or 0.0
    if p95 < LATENCY_FACTOR * usual or p95 - usual < MIN_EXCESS_MS:
        return None
    return InstanceCause(
        worst.instance,
        f"{worst.instance}: p95 {p95:.0f} ms, siblings {usual:.0f} ms; 1 of {len(judged)} instances",
    )


def _failing_instance(judged: Sequence[InstanceStats]) -> InstanceCause | None:
    worst = max(judged, key=lambda s: s.error_ratio)
    siblings = [s for s in judged if s is not worst]
    sibling_requests = sum(s.requests for s in siblings)
    sibling_ratio = sum(s.errors for s in siblings) / sibling_requests if sibling_requests else 0.0
    total_errors = sum(s.errors for s in judged)
    if (
        worst.error_ratio < MIN_ERROR_RATIO
        or worst.error_ratio < ERROR_FACTOR * sibling_ratio
        or worst.errors < MIN_ERROR_SHARE * total_errors
    ):
        return None
    return InstanceCause(
        worst.instance,
        f"{worst.instance}: {worst.error_ratio:.0%} of requests failed, siblings {sibling_ratio:.1%}; "
        f"1 of {len(judged)} instances",
    )
