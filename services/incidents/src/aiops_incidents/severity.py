"""Severity from impact. The thresholds, documented in the README:

| severity | when |
| --- | --- |
| critical | at least 50% of entry-point requests failed or were slow |
| high     | at least 20% of them, or a member series failing 50% of its requests, or 3x slower |
| medium   | at least 5% of them, or a member series failing 10%, or 1.5x slower |
| low      | anything less |
"""

from __future__ import annotations

from collections.abc import Sequence

from aiops_core.models import Anomaly, AnomalyKind
from aiops_incidents.schemas import Impact, Severity

# (severity, entry-point share affected, member error ratio, member latency factor), worst first;
# None: that measure alone cannot reach the level.
THRESHOLDS: tuple[tuple[Severity, float, float | None, float | None], ...] = (
    (Severity.CRITICAL, 0.5, None, None),
    (Severity.HIGH, 0.2, 0.5, 3.0),
    (Severity.MEDIUM, 0.05, 0.1, 1.5),
)


def assess(impact: Impact) -> Severity:
    for severity, share, error_ratio, latency_factor in THRESHOLDS:
        if (
            impact.affected_share >= share
            or (error_ratio is not None and impact.error_ratio >= error_ratio)
            or (latency_factor is not None and impact.latency_factor >= latency_factor)
        ):
            return severity
    return Severity.LOW


def member_impact(anomalies: Sequence[Anomaly], entry_requests: int, affected: int) -> Impact:
    """Impact from the member anomalies' own measures and the entry-point requests counted."""
    error_ratio = max(
        (a.observed.get("error_ratio") or 0.0 for a in anomalies if a.kind is AnomalyKind.ERROR_RATIO),
        default=0.0,
    )
    latency_factor = max(
        (_latency_factor(a) for a in anomalies if a.kind is AnomalyKind.LATENCY), default=1.0
    )
    return Impact(
        entry_requests=entry_requests,
        affected_share=affected / entry_requests if entry_requests else 0.0,
        error_ratio=min(1.0, error_ratio),
        latency_factor=round(latency_factor, 3),
    )


def _latency_factor(anomaly: Anomaly) -> float:
    factors = [
        observed / usual
        for key in ("p95_ms", "p50_ms")
        if (observed := anomaly.observed.get(key)) is not None and (usual := anomaly.baseline.get(key))
    ]
    return max(factors, default=1.0)
