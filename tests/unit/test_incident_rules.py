"""Correlation, severity and the lifecycle rules, on a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from aiops_core.errors import ConflictError
from aiops_core.models import Anomaly, AnomalyEvidence, AnomalyKind
from aiops_incidents.correlation import ActiveIncident, Member, ServiceGraph, incident_for
from aiops_incidents.lifecycle import current_episode, next_status, reopenable, resolvable
from aiops_incidents.schemas import Impact, IncidentStatus, Severity
from aiops_incidents.severity import SeriesNow, assess, member_impact

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
    began = NOW - timedelta(seconds=max([opened_s_ago, *cleared.values()]))  # together, at the start
    members = tuple(
        Member(service, began, NOW - timedelta(seconds=cleared[service]) if service in cleared else None)
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
        (Impact(peak_affected_share=0.6), Severity.CRITICAL),
        (Impact(peak_affected_share=0.25), Severity.HIGH),
        (Impact(peak_error_ratio=0.5), Severity.HIGH),
        (Impact(peak_latency_factor=3.0), Severity.HIGH),
        (Impact(peak_affected_share=0.05), Severity.MEDIUM),
        (Impact(peak_error_ratio=0.12), Severity.MEDIUM),
        (Impact(peak_latency_factor=1.6), Severity.MEDIUM),
        (Impact(peak_affected_share=0.01, peak_error_ratio=0.06, peak_latency_factor=1.2), Severity.LOW),
    ],
)
def test_severity_thresholds(impact: Impact, severity: Severity) -> None:
    assert assess(impact) is severity


def test_impact_follows_the_fault_and_keeps_its_peak() -> None:
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

    error = member(AnomalyKind.ERROR_RATIO, {"error_ratio": 0.3}, {"error_ratio": 0.01})
    slow = member(AnomalyKind.LATENCY, {"p50_ms": 80, "p95_ms": 400}, {"p50_ms": 40, "p95_ms": 100})
    # Detected on their first windows; nothing recent to go by yet.
    first = member_impact([error, slow], {}, entry_requests=200, affected=50)
    assert first == Impact(
        entry_requests=200,
        affected_share=0.25,
        error_ratio=0.3,
        latency_factor=4.0,
        peak_affected_share=0.25,
        peak_error_ratio=0.3,
        peak_latency_factor=4.0,
    )
    # The fault grows: half the payments fail now, and the latency is 6 times the usual.
    worse = {("payment", "POST /payment"): SeriesNow(requests=300, errors=150, p95_ms=600.0)}
    grown = member_impact([error, slow], worse, entry_requests=400, affected=200, previous=first)
    assert (grown.error_ratio, grown.latency_factor, grown.affected_share) == (0.5, 6.0, 0.5)
    assert (grown.peak_error_ratio, grown.peak_latency_factor, grown.peak_affected_share) == (0.5, 6.0, 0.5)
    # It fades: the measures follow it down, the peaks stay.
    fading = {("payment", "POST /payment"): SeriesNow(requests=300, errors=30, p95_ms=150.0)}
    faded = member_impact([error, slow], fading, entry_requests=400, affected=40, previous=grown)
    assert (faded.error_ratio, faded.latency_factor, faded.affected_share) == (0.1, 1.5, 0.1)
    assert (faded.peak_error_ratio, faded.peak_latency_factor, faded.peak_affected_share) == (0.5, 6.0, 0.5)
    assert assess(faded) is Severity.CRITICAL
    # Too few requests now to say: the detection window stands.
    sparse = {("payment", "POST /payment"): SeriesNow(requests=3, errors=3, p95_ms=900.0)}
    assert member_impact([error], sparse, entry_requests=0, affected=0).error_ratio == 0.3


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


def episode_member(service: str, started_s: float, cleared_s: float | None) -> Anomaly:
    """An anomaly on `service` that began `started_s` after NOW and cleared `cleared_s` after it
    (None: still open)."""
    return Anomaly(
        id=uuid4(),
        service=service,
        operation="POST /x",
        kind=AnomalyKind.ERROR_RATIO,
        score=0.9,
        started_at=NOW + timedelta(seconds=started_s),
        detected_at=NOW + timedelta(seconds=started_s + 2),
        cleared_at=None if cleared_s is None else NOW + timedelta(seconds=cleared_s),
        window_s=10,
        observed={},
        baseline={},
        evidence=AnomalyEvidence(),
    )


def test_a_reopened_incident_s_episode_starts_with_the_anomaly_that_reopened_it() -> None:
    cooldown = timedelta(seconds=30)
    old_cause, old_symptom = episode_member("frontend", 0, 60), episode_member("payment", 5, 70)
    reopener = episode_member("frontend", 200, None)  # 130 s after everything had cleared
    joined = episode_member("payment", 201, None)
    assert current_episode([joined, old_symptom, reopener, old_cause], cooldown) == [reopener, joined]
    # Trouble again within the cooldown: the incident never resolved, one episode.
    flapping = episode_member("frontend", 95, None)
    assert current_episode([old_cause, old_symptom, flapping], cooldown) == [old_cause, old_symptom, flapping]
    # An anomaly still open holds the episode together however late the next one begins.
    lingering = episode_member("payment", 5, None)
    assert current_episode([old_cause, lingering, reopener], cooldown) == [old_cause, lingering, reopener]
    assert current_episode([], cooldown) == []


def test_a_reopened_incident_correlates_by_the_trouble_since_it_reopened() -> None:
    """payment's fault cleared ten minutes ago; the frontend's errors reopened its incident just
    now. inventory's anomaly, beginning now, is part of the new trouble."""
    old = Member("payment", NOW - timedelta(seconds=600), NOW - timedelta(seconds=540))
    reopener = Member("frontend", NOW - timedelta(seconds=2), None)
    reopened = ActiveIncident(uuid4(), NOW - timedelta(seconds=600), "payment", (old, reopener))
    assert joins("inventory", [reopened]) == reopened
    # Before it reopened, that old trouble was over: nothing joins it.
    resolved_trouble = ActiveIncident(uuid4(), NOW - timedelta(seconds=600), "payment", (old,))
    assert joins("inventory", [resolved_trouble]) is None


def test_a_peer_that_sends_no_spans_is_as_near_as_its_callers() -> None:
    """The frontend fails on its own and calls inventory less, so inventory's calls to its
    database drop too: the database's anomaly is part of the frontend's incident."""
    edges = [("frontend", "payment"), ("frontend", "inventory"), ("inventory", "postgresql stock-db")]
    graph = ServiceGraph(edges, peers={"postgresql stock-db"})
    assert "postgresql stock-db" in graph.near("frontend")
    assert "frontend" in graph.near("postgresql stock-db")
    frontend_fails = active("frontend")
    assert incident_for("postgresql stock-db", NOW, [frontend_fails], graph, GRACE) == frontend_fails
    # A service that sends spans is two hops from the frontend, and no nearer.
    instrumented = ServiceGraph([*edges, ("inventory", "stock-service")], peers={"postgresql stock-db"})
    assert "stock-service" not in instrumented.near("frontend")
    assert incident_for("stock-service", NOW, [frontend_fails], instrumented, GRACE) is None
