"""Root-cause ranking on synthetic traces of the demo shop's shape: frontend POST /checkout calls
inventory, then payment. Where the trouble starts must rank first, not the callers that suffer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from aiops_core.models import Anomaly, AnomalyEvidence, AnomalyKind, Span
from aiops_incidents.rca.ranking import TraceSample, TroubledTrace, evidence_weight, rank
from aiops_incidents.rca.traces import StoredSpan, TraceTree, error_origins, latency_origins, usual_self_times
from aiops_incidents.schemas import Change, ChangeKind
from tests.support.shop_traces import (
    CHECKOUT,
    INVENTORY,
    PAYMENT,
    PAYMENT_HOST,
    STOCK_QUERY,
    checkout_trace,
)

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def stored(span: Span) -> StoredSpan:
    return StoredSpan(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        service=span.service,
        operation=span.operation,
        kind=span.kind.value,
        start_time=datetime.fromtimestamp(span.start_time_unix_nano / 1e9, UTC),
        duration_ms=span.duration_ns / 1e6,
        is_error=span.is_error,
        error_message=span.error_message,
        peer=span.peer,
        peer_kind=span.peer_kind.value if span.peer_kind else None,
        instance=span.instance,
    )


def shop_trace(**faults: Any) -> TraceTree:
    return TraceTree(stored(span) for span in checkout_trace(T0, **faults))


USUAL = usual_self_times([shop_trace() for _ in range(20)])


def blamed(origins: list) -> dict:  # type: ignore[type-arg]
    shares: dict[tuple[str, str, AnomalyKind], float] = {}
    for origin in origins:
        shares[origin.blame] = shares.get(origin.blame, 0) + origin.share
    return shares


def anomaly(series: tuple[str, str], kind: AnomalyKind, score: float = 0.9) -> Anomaly:
    return Anomaly(
        id=uuid4(),
        service=series[0],
        operation=series[1],
        kind=kind,
        score=score,
        started_at=T0,
        detected_at=T0 + timedelta(seconds=3),
        window_s=10,
        observed={},
        baseline={},
        evidence=AnomalyEvidence(),
    )


def test_a_failing_callee_is_the_origin_not_its_callers() -> None:
    assert blamed(error_origins(shop_trace(payment_fails=True), USUAL)) == {
        (*PAYMENT, AnomalyKind.ERROR_RATIO): 1.0
    }
    assert blamed(error_origins(shop_trace(inventory_fails=True), USUAL)) == {
        (*INVENTORY, AnomalyKind.ERROR_RATIO): 1.0
    }


def test_a_frontend_failing_on_its_own_is_the_origin() -> None:
    assert blamed(error_origins(shop_trace(frontend_fails_early=True), USUAL)) == {
        (*CHECKOUT, AnomalyKind.ERROR_RATIO): 1.0
    }


def test_a_caller_timing_out_on_a_slow_callee_blames_the_callee_latency() -> None:
    trace = shop_trace(inventory_ms=6000, timeout_ms=5000)
    assert blamed(error_origins(trace, USUAL)) == {(*INVENTORY, AnomalyKind.LATENCY): 1.0}


def test_latency_blame_goes_to_the_span_whose_self_time_grew() -> None:
    shares = blamed(latency_origins(shop_trace(payment_ms=340), USUAL))
    assert max(shares, key=lambda k: shares[k]) == (*PAYMENT, AnomalyKind.LATENCY)
    assert shares[(*PAYMENT, AnomalyKind.LATENCY)] > 0.9
    assert latency_origins(shop_trace(), USUAL) == [], "a usual trace has no latency origin"


def test_self_time_subtracts_overlapping_children_once() -> None:
    def span(span_id: str, parent: str | None, start_ms: float, ms: float) -> StoredSpan:
        return StoredSpan(
            "t" * 32,
            span_id,
            parent,
            "svc",
            span_id,
            "internal",
            T0 + timedelta(milliseconds=start_ms),
            ms,
            False,
        )

    tree = TraceTree(
        [span("p", None, 0, 100), span("a", "p", 10, 50), span("b", "p", 40, 50), span("c", "p", 95, 30)]
    )
    # Children cover 10-90 and 95-100 (the rest of c runs after its parent ended).
    assert abs(tree.self_time_ms(tree.spans["p"]) - 15) < 1e-6


def test_ranking_puts_the_failing_callee_first_with_its_evidence() -> None:
    members = [anomaly(CHECKOUT, AnomalyKind.ERROR_RATIO), anomaly(PAYMENT, AnomalyKind.ERROR_RATIO)]
    sample = TraceSample(
        troubled=[TroubledTrace(shop_trace(payment_fails=True), failed=True) for _ in range(10)],
        usual_self_ms=USUAL,
    )
    ranked = rank(members, [("frontend", "inventory"), ("frontend", "payment")], sample)
    top = ranked[0]
    assert (top.service, top.operation, top.kind) == (*PAYMENT, AnomalyKind.ERROR_RATIO)
    assert top.score > 0.7
    assert top.evidence.span_paths[0] == ["frontend POST /checkout", "frontend POST", "payment POST /payment"]
    assert top.evidence.error_messages[0].message == "card processor timed out"
    assert [c.service for c in ranked[1:]] == ["frontend"]


def test_without_traces_the_graph_discounts_callers_of_anomalous_services() -> None:
    members = [anomaly(CHECKOUT, AnomalyKind.LATENCY), anomaly(INVENTORY, AnomalyKind.LATENCY, score=0.8)]
    ranked = rank(members, [("frontend", "inventory"), ("frontend", "payment")], TraceSample())
    assert [c.service for c in ranked] == ["inventory", "frontend"]


def test_a_traffic_drop_everywhere_is_blamed_on_the_entry_point() -> None:
    members = [anomaly(s, AnomalyKind.TRAFFIC_DROP) for s in (PAYMENT, INVENTORY, CHECKOUT)]
    ranked = rank(members, [("frontend", "inventory"), ("frontend", "payment")], TraceSample())
    assert ranked[0].service == "frontend"


def test_the_cascade_ranks_the_slow_callee_over_the_failing_caller() -> None:
    members = [anomaly(CHECKOUT, AnomalyKind.ERROR_RATIO), anomaly(CHECKOUT, AnomalyKind.LATENCY)]
    sample = TraceSample(
        troubled=[
            TroubledTrace(shop_trace(inventory_ms=6000, timeout_ms=5000), failed=True) for _ in range(10)
        ],
        usual_self_ms=USUAL,
    )
    ranked = rank(members, [("frontend", "inventory")], sample)
    assert (ranked[0].service, ranked[0].kind) == ("inventory", AnomalyKind.LATENCY)


def test_a_symptom_that_shows_up_later_weighs_less_than_the_first_evidence() -> None:
    # Payment fails; seconds later the frontend, busy with the failures, slows down on its own.
    errors = [anomaly(CHECKOUT, AnomalyKind.ERROR_RATIO), anomaly(PAYMENT, AnomalyKind.ERROR_RATIO)]
    later = anomaly(CHECKOUT, AnomalyKind.LATENCY).model_copy(
        update={"detected_at": errors[0].detected_at + timedelta(seconds=20)}
    )
    first = errors[0].detected_at

    def picked(member: Anomaly, traces: list[TraceTree], failed: bool) -> list[TroubledTrace]:
        weight = evidence_weight(member, first) / len(traces)
        return [TroubledTrace(tree, failed, weight) for tree in traces]

    sample = TraceSample(
        troubled=[
            *picked(errors[1], [shop_trace(payment_fails=True) for _ in range(5)], failed=True),
            # Four times as many slow traces, all blaming the frontend's own time.
            *picked(later, [shop_trace(frontend_self_ms=300) for _ in range(20)], failed=False),
        ],
        usual_self_ms=USUAL,
    )
    ranked = rank([*errors, later], [("frontend", "inventory"), ("frontend", "payment")], sample)
    assert (ranked[0].service, ranked[0].kind) == ("payment", AnomalyKind.ERROR_RATIO)
    assert evidence_weight(later, first) < 0.5 * evidence_weight(errors[0], first)


def test_a_failing_call_to_a_database_that_sends_no_spans_blames_the_database() -> None:
    tree = shop_trace(stock_db_ms=2, stock_db_fails=True)
    assert blamed(error_origins(tree, USUAL)) == {(*STOCK_QUERY, AnomalyKind.ERROR_RATIO): 1.0}


def test_a_slow_database_is_blamed_for_the_time_its_callers_wait() -> None:
    usual = usual_self_times([shop_trace(stock_db_ms=2) for _ in range(20)])
    tree = shop_trace(stock_db_ms=300, inventory_ms=306)
    assert blamed(latency_origins(tree, usual)) == {(*STOCK_QUERY, AnomalyKind.LATENCY): 1.0}


def test_an_unanswered_http_call_blames_its_peer_only_once_the_graph_inferred_it() -> None:
    # Payment is down: the frontend's call to it fails, and no server span answers it.
    spans = [s for s in checkout_trace(T0, payment_fails=True) if s.service != "payment"]
    [call] = [s for s in spans if s.peer == PAYMENT_HOST[0]]
    unanswered = [stored(s) for s in spans]
    assert blamed(error_origins(TraceTree(unanswered), USUAL)) == {
        ("frontend", "POST /checkout", AnomalyKind.ERROR_RATIO): 1.0
    }, "an address the graph saw a service answer is not a peer of its own"
    assert blamed(error_origins(TraceTree(unanswered, {PAYMENT_HOST[0]}), USUAL)) == {
        (PAYMENT_HOST[0], call.operation, AnomalyKind.ERROR_RATIO): 1.0
    }


def change(service: str, before: timedelta, old: str = "1.4.2", new: str = "1.5.0") -> Change:
    return Change(
        id=uuid4(),
        service=service,
        kind=ChangeKind.DEPLOY,
        at=T0 - before,
        summary="",
        old_version=old,
        new_version=new,
        source="spans",
        attributes={},
        recorded_at=T0,
    )


TWO_SUSPECTS = [
    anomaly(INVENTORY, AnomalyKind.ERROR_RATIO, 0.9),
    anomaly(PAYMENT, AnomalyKind.ERROR_RATIO, 0.8),
]
EDGES = [("frontend", "inventory"), ("frontend", "payment")]


def test_a_deploy_just_before_a_candidates_trouble_raises_it_and_is_named() -> None:
    assert rank(TWO_SUSPECTS, EDGES, TraceSample())[0].service == "inventory"
    ranked = rank(TWO_SUSPECTS, EDGES, TraceSample(), changes=[change("payment", timedelta(seconds=38))])
    top = ranked[0]
    assert top.service == "payment"
    assert top.reason.startswith("payment 1.4.2 → 1.5.0 deployed 38 s before its errors began")
    assert [(c.new_version, c.before_s) for c in top.evidence.changes] == [("1.5.0", 38.0)]
    assert ranked[1].evidence.changes == []


def test_a_deploy_just_after_the_window_its_trouble_was_found_in_began_counts_as_it_began() -> None:
    ranked = rank(TWO_SUSPECTS, EDGES, TraceSample(), changes=[change("payment", timedelta(seconds=-4))])
    assert ranked[0].service == "payment"
    assert ranked[0].reason.startswith("payment 1.4.2 → 1.5.0 deployed as its errors began;")


def test_a_change_long_before_or_to_a_service_without_trouble_adds_nothing() -> None:
    unrelated = [change("payment", timedelta(minutes=20)), change("cart", timedelta(seconds=30))]
    ranked = rank(TWO_SUSPECTS, EDGES, TraceSample(), changes=unrelated)
    assert [c.service for c in ranked] == ["inventory", "payment"]
    assert all(c.evidence.changes == [] for c in ranked)
    assert ranked == rank(TWO_SUSPECTS, EDGES, TraceSample())


def test_a_metric_anomaly_with_nothing_else_to_go_by_is_the_root_cause_with_its_values() -> None:
    pool = anomaly(("inventory", "db.client.connection.count state=used on inventory-1"), AnomalyKind.METRIC)
    evidence = {"observed": {"value": 8.0, "times_normal": 16.0}, "baseline": {"value": 0.5}}
    pool = pool.model_copy(update=evidence)
    [top] = rank([pool], EDGES, TraceSample())
    assert (top.service, top.kind) == ("inventory", AnomalyKind.METRIC)
    assert top.reason == "8 against 0.5 usual (16 x normal) since 12:00:00 UTC"
