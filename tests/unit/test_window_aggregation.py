from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from aiops_core.bus import IncomingMessage, PoisonMessageError
from aiops_core.bus.memory import InMemoryBus
from aiops_core.models import Span, SpanKind
from aiops_core.peers import NodeKind
from aiops_core.windows import EXEMPLARS_PER_BATCH, Series, WindowBatch, aggregate, counted
from aiops_detector.detection.metrics import DetectionMetrics
from aiops_detector.detection.window_consumer import WindowConsumer
from aiops_detector.detection.window_store import WindowStore
from tests.support.spans import batch_message, batch_of, request_span, span_fields

T0 = datetime(2026, 11, 2, 12, 0, 0, tzinfo=UTC)


def test_a_batch_becomes_one_delta_per_series_and_second() -> None:
    spans = [request_span(T0 + timedelta(milliseconds=100 * i)) for i in range(15)]
    spans += [request_span(T0, error="card declined"), request_span(T0, error=None, kind=SpanKind.CONSUMER)]
    spans += [request_span(T0, kind=SpanKind.CLIENT), request_span(T0, kind=SpanKind.INTERNAL)]
    deltas = aggregate(span_fields(spans))
    payment = deltas[Series("payment", "POST /payment")]
    second = int(T0.timestamp())
    assert {slot: d.requests for slot, d in payment.slots.items()} == {second: 12, second + 1: 5}
    assert payment.slots[second].errors == 1
    assert sum(d.latency.total for d in payment.slots.values()) == 17
    assert payment.messages == {second // 60 * 60: {"card declined": 1}}


def test_exemplars_favour_failed_and_slow_requests_and_stay_few() -> None:
    spans = [request_span(T0, duration_ms=10 + i) for i in range(50)]
    spans += [request_span(T0, error="timeout", duration_ms=5) for _ in range(10)]
    exemplars = aggregate(span_fields(spans))[Series("payment", "POST /payment")].exemplars
    assert len(exemplars) == 2 * EXEMPLARS_PER_BATCH
    assert sum(e.is_error for e in exemplars) == EXEMPLARS_PER_BATCH
    assert sorted(e.duration_ms for e in exemplars if not e.is_error) == [57, 58, 59]


def test_a_root_span_of_any_kind_is_a_request() -> None:
    root = request_span(T0, kind=SpanKind.INTERNAL).model_copy(update={"parent_span_id": None})
    assert Series("payment", "POST /payment") in aggregate(span_fields([root]))


def _call(peer: str, kind: NodeKind, *, error: str | None = None, ms: float = 2.0) -> Span:
    span = request_span(T0, service="inventory", operation="SELECT stock", kind=SpanKind.CLIENT, error=error)
    return span.model_copy(update={"peer": peer, "peer_kind": kind, "duration_ns": int(ms * 1e6)})


def test_calls_to_a_database_are_the_database_s_series() -> None:
    spans = [_call("postgresql stock-db", NodeKind.DATABASE, ms=300) for _ in range(3)]
    spans.append(_call("postgresql stock-db", NodeKind.DATABASE, error="connection reset"))
    deltas = aggregate(span_fields(spans))
    assert set(deltas) == {Series("postgresql stock-db", "SELECT stock")}
    [slot] = deltas[Series("postgresql stock-db", "SELECT stock")].slots.values()
    assert (slot.requests, slot.errors, slot.latency.total) == (4, 1, 4)


def test_calls_to_an_http_peer_count_only_once_the_graph_found_it_sends_no_spans() -> None:
    calls = span_fields(
        [_call("api.stripe.com", NodeKind.HTTP), _call("postgresql stock-db", NodeKind.DATABASE)]
    )
    deltas = aggregate(calls)
    database = Series("postgresql stock-db", "SELECT stock")
    assert set(counted(deltas, http_peers=())) == {database}, "it may be a service, answering with spans"
    assert set(counted(deltas, http_peers={"api.stripe.com"})) == {
        Series("api.stripe.com", "SELECT stock"),
        database,
    }


def test_the_deltas_cross_the_bus_unchanged() -> None:
    spans = [request_span(T0 + timedelta(milliseconds=300 * i), duration_ms=10 + i) for i in range(8)]
    spans += [request_span(T0, error="card declined"), _call("api.stripe.com", NodeKind.HTTP, ms=90)]
    batch = batch_of(spans)
    sent = aggregate(span_fields(spans))
    assert WindowBatch.model_validate_json(batch_message(batch)).deltas() == sent


def test_a_batch_from_an_ingest_older_than_the_deltas_is_aggregated_by_the_detector() -> None:
    consumer = WindowConsumer(
        InMemoryBus(), WindowStore(Redis()), DetectionMetrics(CollectorRegistry()), prefetch=1
    )
    batch = batch_of(
        [request_span(T0 + timedelta(milliseconds=250 * i), duration_ms=5 + i) for i in range(9)]
    )
    legacy = consumer.decode(
        IncomingMessage(body=batch.model_dump_json().encode(), routing_key="spans.batch")
    )
    assert legacy.batch_id == batch.batch_id
    assert legacy.deltas() == aggregate(span_fields(batch.spans))
    with pytest.raises(PoisonMessageError, match="not a span batch with window deltas: batch_id"):
        consumer.decode(IncomingMessage(body=b'{"batch_id": "x", "spans": []}', routing_key="spans.batch"))
