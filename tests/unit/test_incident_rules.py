"""Correlation, severity and the lifecycle rules, on a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from aiops_core.errors import ConflictError
from aiops_core.models import Anomaly, AnomalyEvidence, AnomalyKind
from aiops_incidents.correlation import ActiveIncident, Member, ServiceGraph, incident_for
from aiops_incidents.lifecycle import next_status, reopenable, resolvable
from aiops_incidents.schemas import Impact, IncidentStatus, Severity
from aiops_incidents.severity import assess, member_impact

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SHOP = ServiceGraph([("frontend", "payment"), ("frontend", "inventory"), ("billing", "ledger")])


GRACE = timedelta(seconds=30)


def active(
    *services: str,
    opened_s_ago: float = 10,
    root: str | None = None,
    cleared_s_ago: dict[str, float] | None = None,
) -> ActiveIncident:
    """An incident with a member anomaly on each service, open unless `cleared_s_ago` says when
    it cleared; its root cause on `root` (default: the first service)."""
    cleared = cleared_s_ago or {}
    members = tuple(
        Member(service, NOW - timedelta(seconds=cleared[service]) if service in cleared else None)
        for service in services
    )
    return ActiveIncident(uuid4(), NOW - timedelta(seconds=opened_s_ago), root or services[0], members)


def joins(service: str, incidents: list[ActiveIncident], graph: ServiceGraph = SHOP) -> ActiveIncident | None:
    """The incident an anomaly on `service` beginning now joins."""
    return incident_for(service, NOW, incidents, graph, GRACE)


def test_an_anomaly_joins_an_incident_on_its_own_or_a_connected_service() -> None:
    payment = active("payment")
    assert joins("payment", [payment]) is payment
    assert joins("frontend", [payment]) is payment, "frontend calls payment"
    assert joins("inventory", [payment]) is payment, "siblings share a caller that suffers"
    assert joins("ledger", [payment]) is None
    assert joins("billing", [payment]) is None


def test_of_several_connected_incidents_the_first_opened_wins() -> None:
    older, newer = active("payment", opened_s_ago=60), active("inventory", opened_s_ago=5)
    assert joins("frontend", [newer, older]) is older


def test_without_a_learned_graph_only_the_same_service_correlates() -> None:
    empty = ServiceGraph([])
    assert joins("frontend", [active("payment")], empty) is None
    assert joins("payment", [active("payment")], empty) is not None


def test_an_anomaly_joins_while_the_root_cause_is_in_trouble_or_just_after() -> None:
    recovering = active("payment", "frontend", cleared_s_ago={"payment": 20, "frontend": 20})
    assert joins("inventory", [recovering]) is recovering, "trouble the recovery itself causes"
    long_over = active("payment", "frontend", cleared_s_ago={"payment": 40, "frontend": 40})
    assert joins("inventory", [long_over]) is None
    earlier = incident_for("inventory", NOW - timedelta(seconds=15), [long_over], SHOP, GRACE)
    assert earlier is long_over, "it began within the grace period; it was detected later"


def test_a_lingering_symptom_does_not_pull_a_new_fault_into_an_old_incident() -> None:
    # Payment failed and recovered two minutes ago; the frontend is still a little slow.
    lingering = active("payment", "frontend", root="payment", cleared_s_ago={"payment": 120})
    assert joins("inventory", [lingering]) is None
    assert joins("frontend", [lingering]) is None
    # While the root cause is still failing, the same anomaly is part of it.
    ongoing = active("payment", "frontend", root="payment", cleared_s_ago={"frontend": 120})
    assert joins("inventory", [ongoing]) is ongoing


def test_without_an_anomaly_at_the_root_cause_every_member_counts() -> None:
    # The traces blamed payment, which had no anomaly of its own: the frontend's is the trouble.
    traced = active("frontend", root="payment")
    assert joins("inventory", [traced]) is traced
    calm = active("frontend", root="payment", cleared_s_ago={"frontend": 120})
    assert joins("inventory", [calm]) is None


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
