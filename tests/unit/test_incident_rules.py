"""Correlation, severity and the lifecycle rules, on a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from aiops_core.errors import ConflictError
from aiops_core.models import Anomaly, AnomalyEvidence, AnomalyKind
from aiops_incidents.correlation import ActiveIncident, ServiceGraph, incident_for
from aiops_incidents.lifecycle import next_status, reopenable, resolvable
from aiops_incidents.schemas import Impact, IncidentStatus, Severity
from aiops_incidents.severity import assess, member_impact

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SHOP = ServiceGraph([("frontend", "payment"), ("frontend", "inventory"), ("billing", "ledger")])


def active(*services: str, opened_s_ago: float = 10) -> ActiveIncident:
    return ActiveIncident(uuid4(), "fp", NOW - timedelta(seconds=opened_s_ago), frozenset(services))


def test_an_anomaly_joins_an_incident_on_its_own_or_a_connected_service() -> None:
    payment = active("payment")
    assert incident_for("payment", [payment], SHOP) is payment
    assert incident_for("frontend", [payment], SHOP) is payment, "frontend calls payment"
    assert incident_for("inventory", [payment], SHOP) is payment, "siblings share a caller that suffers"
    assert incident_for("ledger", [payment], SHOP) is None
    assert incident_for("billing", [payment], SHOP) is None


def test_of_several_connected_incidents_the_first_opened_wins() -> None:
    older, newer = active("payment", opened_s_ago=60), active("inventory", opened_s_ago=5)
    assert incident_for("frontend", [newer, older], SHOP) is older


def test_without_a_learned_graph_only_the_same_service_correlates() -> None:
    empty = ServiceGraph([])
    assert incident_for("frontend", [active("payment")], empty) is None
    assert incident_for("payment", [active("payment")], empty) is not None


@pytest.mark.parametrize(
    ("impact", "severity"),
    [
        (Impact(affected_share=0.6), Severity.CRITICAL),
        (Impact(affected_share=0.25), Severity.HIGH),
        (Impact(error_ratio=0.5), Severity.HIGH),
        (Impact(latency_factor=3.0), Severity.HIGH),
        (Impact(affected_share=0.05), Severity.MEDIUM),
        (Impact(error_ratio=0.12), Severity.MEDIUM),
        (Impact(latency_factor=1.6), Severity.MEDIUM),
        (Impact(affected_share=0.01, error_ratio=0.06, latency_factor=1.2), Severity.LOW),
    ],
)
def test_severity_thresholds(impact: Impact, severity: Severity) -> None:
    assert assess(impact) is severity


def test_impact_takes_the_worst_member_measures() -> None:
    def member(
        kind: AnomalyKind, observed: dict[str, float | None], baseline: dict[str, float | None]
    ) -> Anomaly:
        return Anomaly(
            id=uuid4(),
            service="payment",
            operation="POST /payment",
            kind=kind,
            score=0.9,
            started_at=NOW,
            detected_at=NOW,
            window_s=10,
            observed=observed,
            baseline=baseline,
            evidence=AnomalyEvidence(),
        )

    impact = member_impact(
        [
            member(AnomalyKind.ERROR_RATIO, {"error_ratio": 0.3}, {"error_ratio": 0.01}),
            member(AnomalyKind.LATENCY, {"p50_ms": 80, "p95_ms": 400}, {"p50_ms": 40, "p95_ms": 100}),
        ],
        entry_requests=200,
        affected=50,
    )
    assert impact == Impact(entry_requests=200, affected_share=0.25, error_ratio=0.3, latency_factor=4.0)


def test_status_changes_and_repeats() -> None:
    assert next_status(IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED) is IncidentStatus.ACKNOWLEDGED
    assert next_status(IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESOLVED) is IncidentStatus.RESOLVED
    assert next_status(IncidentStatus.OPEN, IncidentStatus.RESOLVED) is IncidentStatus.RESOLVED
    assert next_status(IncidentStatus.ACKNOWLEDGED, IncidentStatus.ACKNOWLEDGED) is None
    assert next_status(IncidentStatus.RESOLVED, IncidentStatus.RESOLVED) is None
    with pytest.raises(ConflictError):
        next_status(IncidentStatus.RESOLVED, IncidentStatus.ACKNOWLEDGED)


def test_auto_resolve_waits_for_every_anomaly_and_the_cooldown() -> None:
    cooldown = timedelta(seconds=30)
    cleared = NOW - timedelta(seconds=31)
    assert resolvable([cleared, cleared], NOW, cooldown)
    assert not resolvable([cleared, None], NOW, cooldown), "one anomaly is still open"
    assert not resolvable([cleared, NOW - timedelta(seconds=29)], NOW, cooldown), (
        "the last cleared too recently"
    )
    assert not resolvable([], NOW, cooldown)


def test_reopen_only_within_the_window() -> None:
    window = timedelta(minutes=10)
    assert reopenable(NOW - timedelta(minutes=9), NOW, window)
    assert not reopenable(NOW - timedelta(minutes=11), NOW, window)
    assert not reopenable(None, NOW, window)
