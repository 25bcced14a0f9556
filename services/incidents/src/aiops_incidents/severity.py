"""Severity from impact, at its peak. The thresholds, documented in the README:

| severity | when |
| --- | --- |
| critical | at least 50% of entry-point requests failed or were slow |
| high     | at least 20% of them, or a member series failing 50% of its requests, or 3x slower |
| medium   | at least 5% of them, or a member series failing 10%, or 1.5x slower |
| low      | anything less |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiops_core.models import Anomaly, AnomalyKind
from aiops_incidents.schemas import Impact, Severity

# Fewer requests than this in a series' last seconds say too little about its error ratio now.
MIN_REQUESTS_NOW = 10

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
            impact.peak_affected_share >= share
            or (error_ratio is not None and impact.peak_error_ratio >= error_ratio)
            or (latency_factor is not None and impact.peak_latency_factor >= latency_factor)
        ):
            return severity
    return Severity.LOW


@dataclass(frozen=True)
class SeriesNow:
    """A member series' requests over its last seconds."""

    requests: int
    errors: int
    p95_ms: float | None


def member_impact(
    anomalies: Sequence[Anomaly],
    now: Mapping[tuple[str, str], SeriesNow],
    entry_requests: int,
    affected: int,
    previous: Impact | None = None,
) -> Impact:
    """Impact from the member series as they are now (their detection windows where there is
    nothing recent to go by), the entry-point requests counted, and the peaks of `previous`."""
    error_ratio = max(
        (
            _error_ratio_now(a, now.get((a.service, a.operation)))
            for a in anomalies
            if a.kind is AnomalyKind.ERROR_RATIO
        ),
        default=0.0,
    )
    latency_factor = max(
        (
            _latency_factor_now(a, now.get((a.service, a.operation)))
            for a in anomalies
            if a.kind is AnomalyKind.LATENCY
        ),
        default=1.0,
    )
    detected_error_ratio = max(
        (a.observed.get("error_ratio") or 0.0 for a in anomalies if a.kind is AnomalyKind.ERROR_RATIO),
        default=0.0,
    )
    detected_latency_factor = max(
        (_latency_factor(a) for a in anomalies if a.kind is AnomalyKind.LATENCY), default=1.0
    )
    affected_share = affected / entry_requests if entry_requests else 0.0
    before = previous or Impact()
    return Impact(
        entry_requests=entry_requests,
        affected_share=affected_share,
        error_ratio=min(1.0, error_ratio),
        latency_factor=round(latency_factor, 3),
        peak_affected_share=max(before.peak_affected_share, affected_share),
        peak_error_ratio=min(1.0, max(before.peak_error_ratio, error_ratio, detected_error_ratio)),
        peak_latency_factor=round(
            max(before.peak_latency_factor, latency_factor, detected_latency_factor), 3
        ),
    )


def _error_ratio_now(anomaly: Anomaly, now: SeriesNow | None) -> float:
    if now is None or now.requests < MIN_REQUESTS_NOW:
        return anomaly.observed.get("error_ratio") or 0.0
    return now.errors / now.requests


def _latency_factor_now(anomaly: Anomaly, now: SeriesNow | None) -> float:
    usual = anomaly.baseline.get("p95_ms")
    if now is None or now.requests < MIN_REQUESTS_NOW or now.p95_ms is None or not usual:
        return _latency_factor(anomaly)
    return now.p95_ms / usual


def _latency_factor(anomaly: Anomaly) -> float:
    factors = [
        observed / usual
        for key in ("p95_ms", "p50_ms")
        if (observed := anomaly.observed.get(key)) is not None and (usual := anomaly.baseline.get(key))
    ]
    return max(factors, default=1.0)
