"""The incident domain on the real PostgreSQL and Redis, on a fake clock: anomalies of one fault
make one incident whose root cause comes from the stored traces; it resolves after the cooldown,
reopens when the cause fires again, and replicas working at once still make one incident."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import asyncpg
import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from aiops_core.errors import ConflictError, NotFoundError
from aiops_core.models import Anomaly, AnomalyEvidence, AnomalyKind, Span
from aiops_core.peers import NodeKind
from aiops_detector.writer.repository import SpanRepository
from aiops_incidents.live_stats import LiveStats
from aiops_incidents.metrics import IncidentMetrics
from aiops_incidents.repository import IncidentFilters
from aiops_incidents.schemas import EventType, Impact, IncidentStatus
from aiops_incidents.service import AnomalyNotYetKnownError, IncidentService, LifecycleConfig
from tests.support.otlp import log_record, logs_request
from tests.support.shop_traces import CHECKOUT, INVENTORY, PAYMENT, STOCK_DB, checkout_trace
from tests.support.spans import batch_of, stored_batch
from tests.support.stored_telemetry import store_logs

COOLDOWN = timedelta(seconds=30)
REOPEN_WINDOW = timedelta(minutes=10)


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def fault_start() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)


@pytest.fixture
def clock(fault_start: datetime) -> FakeClock:
    return FakeClock(fault_start + timedelta(seconds=10))


@pytest.fixture
def registry() -> Iterator[CollectorRegistry]:
    return CollectorRegistry()


def incident_service(
    pool: asyncpg.Pool, redis: Redis, prefix: str, clock: FakeClock, registry: CollectorRegistry
) -> IncidentService:
    return IncidentService(
        pool,
        metrics=IncidentMetrics(registry),
        live_stats=LiveStats(redis, prefix=prefix),
        config=LifecycleConfig(resolve_cooldown=COOLDOWN, reopen_window=REOPEN_WINDOW),
        clock=clock,
    )


@pytest.fixture
async def service(
    pool: asyncpg.Pool, redis_client: Redis, redis_prefix: str, clock: FakeClock, registry: CollectorRegistry
) -> IncidentService:
    return incident_service(pool, redis_client, redis_prefix, clock, registry)


async def store(pool: asyncpg.Pool, traces: list[list[Span]]) -> None:
    spans = SpanRepository(pool, partitioned=True)
    today = datetime.now(UTC).date()
    await spans.ensure_partitions({today - timedelta(days=1), today, today + timedelta(days=1)})
    await spans.write_batch(stored_batch(batch_of([span for trace in traces for span in trace])))


async def payment_fault(pool: asyncpg.Pool, fault_start: datetime) -> None:
    """Two minutes of usual checkouts, then ten seconds in which every payment fails."""
    usual = [checkout_trace(fault_start - timedelta(seconds=120 - i)) for i in range(0, 110, 2)]
    failing = [checkout_trace(fault_start + timedelta(seconds=i / 3), payment_fails=True) for i in range(30)]
    await store(pool, usual + failing)


def anomaly(
    series: tuple[str, str], kind: AnomalyKind, started_at: datetime, detected_s: float = 3
) -> Anomaly:
    return Anomaly(
        id=uuid4(),
        service=series[0],
        operation=series[1],
        kind=kind,
        score=0.95,
        started_at=started_at,
        detected_at=started_at + timedelta(seconds=detected_s),
        window_s=10,
        observed={"requests": 30, "errors": 30, "error_ratio": 1.0},
        baseline={"error_ratio": 0.005},
        evidence=AnomalyEvidence(),
    )


def cleared(anomaly: Anomaly, at: datetime) -> Anomaly:
    return anomaly.model_copy(update={"cleared_at": at})


async def event_types(service: IncidentService, incident_id: object) -> list[EventType]:
    found = await service.incidents.detail(incident_id)  # type: ignore[arg-type]
    assert found is not None
    return [event.type for event in found.timeline]


async def test_a_fault_makes_one_incident_naming_the_failing_callee(
    service: IncidentService,
    pool: asyncpg.Pool,
    fault_start: datetime,
    clock: FakeClock,
    registry: CollectorRegistry,
) -> None:
    await payment_fault(pool, fault_start)
    assert await service.refresh_graph(timedelta(minutes=5)) == 2, "frontend calls inventory and payment"
    frontend = anomaly(CHECKOUT, AnomalyKind.ERROR_RATIO, fault_start)
    payment = anomaly(PAYMENT, AnomalyKind.ERROR_RATIO, fault_start)

    first = await service.on_detected(frontend)
    assert await service.on_detected(payment) == first, "connected anomalies join one incident"
    assert await service.on_detected(frontend) == first, "a redelivered event changes nothing"

    found = await service.incidents.detail(first)
    assert found is not None
    summary, candidates, impact = found, found.candidates, found.impact
    assert (summary.root_cause.service, summary.root_cause.kind) == ("payment", AnomalyKind.ERROR_RATIO)  # type: ignore[union-attr]
    assert summary.fingerprint == "payment|POST /payment|error_ratio"
    assert summary.title == "payment POST /payment: errors"
    assert candidates[0].evidence.span_paths[0] == [
        "frontend POST /checkout",
        "frontend POST",
        "payment POST /payment",
    ]
    assert candidates[0].evidence.error_messages[0].message == "card processor timed out"
    assert [c.service for c in candidates].index("frontend") > 0
    assert impact.affected_share == 1.0
    assert summary.severity.value == "critical"
    assert [e.type for e in found.timeline] == [EventType.OPENED, EventType.ANOMALY_JOINED]
    assert {m.id for m in found.anomalies} == {frontend.id, payment.id}
    assert registry.get_sample_value("aiops_anomalies_detected_total", {"kind": "error_ratio"}) == 2
    assert registry.get_sample_value("aiops_incident_detect_seconds_count") == 1
    page = await service.incidents.page(IncidentFilters(service="payment"), None, 10)
    assert [i.id for i in page] == [first]


async def test_a_slow_database_that_sends_no_spans_is_named_the_root_cause(
    service: IncidentService, pool: asyncpg.Pool, fault_start: datetime
) -> None:
    usual = [
        checkout_trace(fault_start - timedelta(seconds=120 - i), stock_db_ms=2) for i in range(0, 110, 2)
    ]
    slow = [
        checkout_trace(fault_start + timedelta(seconds=i / 3), stock_db_ms=300, inventory_ms=306)
        for i in range(30)
    ]
    await store(pool, usual + slow)
    assert await service.refresh_graph(timedelta(minutes=5)) == 3
    edges = {(e.source, e.target, e.target_kind) for e in await service.graph.edges()}
    assert edges == {
        ("frontend", "inventory", NodeKind.SERVICE),
        ("frontend", "payment", NodeKind.SERVICE),
        ("inventory", STOCK_DB, NodeKind.DATABASE),
    }, "the frontend's answered calls are service edges; the database's are inferred"

    # Only the services waiting on the database are seen to be slow.
    incident = await service.on_detected(anomaly(INVENTORY, AnomalyKind.LATENCY, fault_start))
    await service.on_detected(anomaly(CHECKOUT, AnomalyKind.LATENCY, fault_start))

    found = await service.incidents.detail(incident)
    assert found is not None
    top = found.candidates[0]
    assert (top.service, top.operation, top.kind, top.node_kind) == (
        STOCK_DB,
        "SELECT stock",
        AnomalyKind.LATENCY,
        NodeKind.DATABASE,
    )
    assert top.evidence.seen_from == ["inventory"]
    assert top.reason == f"{STOCK_DB}: p95 300 ms against 2 ms usual, seen from inventory"
    assert found.fingerprint == f"{STOCK_DB}|SELECT stock|latency"


def two_payments(start: datetime, count: int, *, slow: tuple[str, ...] = ()) -> list[list[Span]]:
    """Checkouts served by payment-1 and payment-2 in turn; the `slow` ones take 300 ms more."""
    traces = []
    for i in range(count):
        instance = f"payment-{i % 2 + 1}"
        ms = 340 if instance in slow else 40
        traces.append(
            checkout_trace(start + timedelta(seconds=i / 3), payment_ms=ms, instances={"payment": instance})
        )
    return traces


@pytest.mark.parametrize(
    ("slow", "instance"), [(("payment-2",), "payment-2"), (("payment-1", "payment-2"), None)]
)
async def test_one_bad_instance_is_named_and_a_bad_release_is_not(
    service: IncidentService,
    pool: asyncpg.Pool,
    fault_start: datetime,
    slow: tuple[str, ...],
    instance: str | None,
) -> None:
    await store(pool, two_payments(fault_start - timedelta(seconds=120), 300))
    await store(pool, two_payments(fault_start, 60, slow=slow))
    await service.refresh_graph(timedelta(minutes=5))
    incident = await service.on_detected(anomaly(PAYMENT, AnomalyKind.LATENCY, fault_start))
    await service.on_detected(anomaly(CHECKOUT, AnomalyKind.LATENCY, fault_start))

    found = await service.incidents.detail(incident)
    assert found is not None
    top = found.candidates[0]
    assert (top.service, top.kind, top.instance) == ("payment", AnomalyKind.LATENCY, instance)
    by_instance = {row.instance: row for row in top.evidence.instances}
    assert set(by_instance) == {"payment-1", "payment-2"}
    assert [name for name, row in by_instance.items() if row.outlier] == ([instance] if instance else [])
    if instance:
        assert found.fingerprint == "payment|POST /payment|latency|payment-2"
        assert found.title == "payment POST /payment: slow on payment-2"
        assert top.reason.startswith("payment-2: p95 3")
        assert top.reason.endswith("1 of 2 instances")
    else:
        assert found.fingerprint == "payment|POST /payment|latency"


async def test_the_impact_follows_a_growing_fault_and_keeps_its_peak(
    service: IncidentService, pool: asyncpg.Pool, fault_start: datetime, clock: FakeClock
) -> None:
    # Detected on a first window in which 20% of the payments failed.
    usual = [checkout_trace(fault_start - timedelta(seconds=120 - i)) for i in range(0, 110, 2)]
    await store(pool, usual)
    first = anomaly(PAYMENT, AnomalyKind.ERROR_RATIO, fault_start).model_copy(
        update={"observed": {"requests": 50, "errors": 10, "error_ratio": 0.2}}
    )
    incident_id = await service.on_detected(first)

    async def impact() -> Impact:
        await service.rerank()
        found = await service.incidents.detail(incident_id)
        assert found is not None
        return found.impact

    # The fault grows: for the next 30 s every payment fails.
    clock.now = fault_start + timedelta(seconds=40)
    await store(
        pool, [checkout_trace(fault_start + timedelta(seconds=10 + i), payment_fails=True) for i in range(30)]
    )
    grown = await impact()
    assert grown.error_ratio == 1.0, "the error ratio now, not the first window's"
    assert grown.peak_error_ratio == 1.0
    # It recovers: the next 30 s succeed; the measure follows, the peak stays.
    clock.now = fault_start + timedelta(seconds=70)
    await store(pool, [checkout_trace(fault_start + timedelta(seconds=40 + i)) for i in range(30)])
    recovered = await impact()
    assert recovered.error_ratio == 0.0
    assert recovered.peak_error_ratio == 1.0
    assert recovered.affected_share == 0.5, "half the checkouts since the start failed"
    assert recovered.peak_affected_share == 1.0
    found = await service.incidents.detail(incident_id)
    assert found is not None
    assert found.severity.value == "critical", "from the peak: every checkout failed for a while"


async def test_replicas_handling_one_fault_at_once_make_one_incident(
    pool: asyncpg.Pool, redis_client: Redis, redis_prefix: str, fault_start: datetime, clock: FakeClock
) -> None:
    await payment_fault(pool, fault_start)
    replicas = [
        incident_service(pool, redis_client, redis_prefix, clock, CollectorRegistry()) for _ in range(3)
    ]
    await replicas[0].refresh_graph(timedelta(minutes=5))
    anomalies = [
        anomaly(series, kind, fault_start)
        for series in (CHECKOUT, PAYMENT)
        for kind in (AnomalyKind.ERROR_RATIO, AnomalyKind.LATENCY)
    ]
    ids = await asyncio.gather(*(r.on_detected(a) for r in replicas for a in anomalies))
    assert len(set(ids)) == 1
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM incidents") == 1
        assert await conn.fetchval("SELECT count(*) FROM incident_anomalies") == 4


async def test_it_resolves_after_the_cooldown_and_reopens_when_the_cause_fires_again(
    service: IncidentService, pool: asyncpg.Pool, fault_start: datetime, clock: FakeClock
) -> None:
    await payment_fault(pool, fault_start)
    await service.refresh_graph(timedelta(minutes=5))
    frontend = anomaly(CHECKOUT, AnomalyKind.ERROR_RATIO, fault_start)
    payment = anomaly(PAYMENT, AnomalyKind.ERROR_RATIO, fault_start)
    incident = await service.on_detected(payment)
    await service.on_detected(frontend)

    clock.advance(20)
    await service.on_cleared(cleared(payment, clock.now))
    await service.on_cleared(cleared(payment, clock.now))  # repeated: nothing more
    clock.advance(40)
    assert await service.resolve_calm() == [], "frontend's anomaly is still open"
    await service.on_cleared(cleared(frontend, clock.now))
    clock.advance(COOLDOWN.total_seconds() - 1)
    assert await service.resolve_calm() == []
    clock.advance(2)
    assert await service.resolve_calm() == [incident]

    clock.advance(120)
    again = anomaly(PAYMENT, AnomalyKind.ERROR_RATIO, clock.now - timedelta(seconds=3))
    assert await service.on_detected(again) == incident, "the same root cause within the window reopens"
    summaries = await service.incidents.page(IncidentFilters(), None, 10)
    assert [(s.id, s.status, s.reopened_count) for s in summaries] == [(incident, IncidentStatus.OPEN, 1)]
    assert await event_types(service, incident) == [
        EventType.OPENED,
        EventType.ANOMALY_JOINED,
        EventType.ANOMALY_CLEARED,
        EventType.ANOMALY_CLEARED,
        EventType.RESOLVED,
        EventType.REOPENED,
    ]

    await service.on_cleared(cleared(again, clock.now))
    clock.advance(COOLDOWN.total_seconds() + 1)
    assert await service.resolve_calm() == [incident]
    clock.advance(REOPEN_WINDOW.total_seconds() + 1)
    later = anomaly(PAYMENT, AnomalyKind.ERROR_RATIO, clock.now - timedelta(seconds=3))
    assert await service.on_detected(later) != incident, "past the window it is a new incident"


async def test_a_reopened_incident_is_ranked_on_the_fault_that_reopened_it(
    service: IncidentService, pool: asyncpg.Pool, fault_start: datetime, clock: FakeClock
) -> None:
    """The frontend fails on its own, and its incident resolves. Two minutes later payment fails;
    the frontend's errors are seen first, before payment's traces are stored, and reopen the
    frontend's incident. Its root cause must come from the new fault, not from the old one."""
    usual = [checkout_trace(fault_start - timedelta(seconds=120 - i)) for i in range(0, 110, 2)]
    own = [
        checkout_trace(fault_start + timedelta(seconds=i / 3), frontend_fails_early=True) for i in range(30)
    ]
    await store(pool, usual + own)
    await service.refresh_graph(timedelta(minutes=5))
    frontend = anomaly(CHECKOUT, AnomalyKind.ERROR_RATIO, fault_start)
    incident = await service.on_detected(frontend)
    clock.advance(20)
    await service.on_cleared(cleared(frontend, clock.now))
    clock.advance(COOLDOWN.total_seconds() + 1)
    assert await service.resolve_calm() == [incident]

    clock.advance(90)
    payment_start = clock.now - timedelta(seconds=5)
    symptom = anomaly(CHECKOUT, AnomalyKind.ERROR_RATIO, payment_start)
    assert await service.on_detected(symptom) == incident, "the frontend's errors reopen its incident"
    failing = [
        checkout_trace(payment_start + timedelta(seconds=i / 3), payment_fails=True) for i in range(15)
    ]
    await store(pool, failing)
    assert await service.on_detected(anomaly(PAYMENT, AnomalyKind.ERROR_RATIO, payment_start)) == incident
    found = await service.incidents.detail(incident)
    assert found is not None
    assert (found.root_cause.service, found.root_cause.kind) == ("payment", AnomalyKind.ERROR_RATIO)  # type: ignore[union-attr]
    assert found.title == "payment POST /payment: errors"
    assert found.fingerprint == "payment|POST /payment|error_ratio"


async def test_a_new_fault_next_to_a_lingering_symptom_opens_its_own_incident(
    service: IncidentService, pool: asyncpg.Pool, fault_start: datetime, clock: FakeClock
) -> None:
    await payment_fault(pool, fault_start)
    await service.refresh_graph(timedelta(minutes=5))
    payment = anomaly(PAYMENT, AnomalyKind.ERROR_RATIO, fault_start)
    slow_frontend = anomaly(CHECKOUT, AnomalyKind.LATENCY, fault_start + timedelta(seconds=5))
    first = await service.on_detected(payment)
    assert await service.on_detected(slow_frontend) == first

    clock.advance(20)
    await service.on_cleared(cleared(payment, clock.now))
    clock.advance(20)
    recovery = anomaly(INVENTORY, AnomalyKind.TRAFFIC_SURGE, clock.now - timedelta(seconds=15))
    assert await service.on_detected(recovery) == first, "began within the cooldown after payment cleared"

    clock.advance(120)  # payment is long fine; the frontend is still a little slow
    inventory = anomaly(INVENTORY, AnomalyKind.ERROR_RATIO, clock.now - timedelta(seconds=3))
    second = await service.on_detected(inventory)
    assert second != first, "a new problem, not more of the old one"
    found = await service.incidents.detail(second)
    assert found is not None
    assert found.fingerprint == "inventory|GET /inventory/{sku}|error_ratio"


async def test_a_cleared_event_before_its_detected_event_is_retried(
    service: IncidentService, fault_start: datetime
) -> None:
    with pytest.raises(AnomalyNotYetKnownError):
        await service.on_cleared(cleared(anomaly(PAYMENT, AnomalyKind.ERROR_RATIO, fault_start), fault_start))


async def test_people_acknowledge_comment_and_resolve(
    service: IncidentService, pool: asyncpg.Pool, fault_start: datetime
) -> None:
    await payment_fault(pool, fault_start)
    incident = await service.on_detected(anomaly(PAYMENT, AnomalyKind.ERROR_RATIO, fault_start))
    await service.change_status(incident, IncidentStatus.ACKNOWLEDGED, "alice", "looking")
    await service.change_status(incident, IncidentStatus.ACKNOWLEDGED, "alice", None)  # a repeat: no event
    await service.comment(incident, "bob", "rolled back payment")
    await service.change_status(incident, IncidentStatus.RESOLVED, "alice", None)
    with pytest.raises(ConflictError):
        await service.change_status(incident, IncidentStatus.ACKNOWLEDGED, "alice", None)
    with pytest.raises(NotFoundError):
        await service.comment(uuid4(), "bob", "hello?")
    found = await service.incidents.detail(incident)
    assert found is not None
    assert [(e.type, e.actor) for e in found.timeline] == [
        (EventType.OPENED, "system"),
        (EventType.ACKNOWLEDGED, "alice"),
        (EventType.COMMENT, "alice"),
        (EventType.COMMENT, "bob"),
        (EventType.RESOLVED, "alice"),
    ]
    assert found.acknowledged_at is not None
    assert found.resolved_at is not None


async def test_the_root_cause_s_error_logs_of_the_fault_are_in_its_evidence(
    service: IncidentService, pool: asyncpg.Pool, fault_start: datetime
) -> None:
    usual = [checkout_trace(fault_start - timedelta(seconds=120 - i)) for i in range(0, 110, 2)]
    failing = [checkout_trace(fault_start + timedelta(seconds=i / 3), payment_fails=True) for i in range(30)]
    await store(pool, usual + failing)
    records = [
        # One error a failing request, logged inside it, the card number varying.
        log_record(
            f"card {4000 + n} declined: processor timed out after 3000 ms",
            time_ns=trace[0].start_time_unix_nano + 1_000_000,
            trace_id=bytes.fromhex(trace[0].trace_id),
        )
        for n, trace in enumerate(failing)
    ] + [
        log_record("pool exhausted", time_ns=int((fault_start + timedelta(seconds=2)).timestamp() * 1e9)),
        log_record(
            "retrying", severity=13, time_ns=int((fault_start + timedelta(seconds=2)).timestamp() * 1e9)
        ),
        log_record("long before", time_ns=int((fault_start - timedelta(minutes=10)).timestamp() * 1e9)),
    ]
    await store_logs(pool, logs_request(records, service="payment"))
    await service.refresh_graph(timedelta(minutes=5))

    incident_id = await service.on_detected(anomaly(PAYMENT, AnomalyKind.ERROR_RATIO, fault_start))

    found = await service.incidents.detail(incident_id)
    assert found is not None
    top = found.candidates[0]
    assert top.service == "payment"
    assert [(log.template, log.count) for log in top.evidence.logs] == [
        ("card <*> declined: processor timed out after <*> ms", 30),
        ("pool exhausted", 1),
    ]
    declined = top.evidence.logs[0]
    assert declined.in_exemplar_traces == len(top.evidence.trace_ids) > 0
    assert declined.example == "card 4029 declined: processor timed out after 3000 ms"
    assert set(declined.trace_ids) <= {trace[0].trace_id for trace in failing}
