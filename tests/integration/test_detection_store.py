"""The detection state on the real Redis (single, and a three-node Redis Cluster) and PostgreSQL:
windows merged exactly once per batch, per-minute rollups from stored spans, and at most one open
anomaly per series and kind."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from aiops_core.models import Anomaly, AnomalyEvidence, AnomalyKind, Span, SpanKind
from aiops_core.peers import NodeKind
from aiops_core.windows import Series, aggregate
from aiops_detector.detection.repository import DetectionRepository
from aiops_detector.detection.window_store import WindowSpans, WindowStore, merge_slots
from aiops_detector.writer.repository import SpanRepository
from tests.conftest import WindowsRedis
from tests.support.spans import batch_of, request_span, span_fields, stored_batch

PAYMENT = Series("payment", "POST /payment")
INVENTORY = Series("inventory", "GET /inventory/{sku}")


def second(at: datetime) -> int:
    return int(at.timestamp())


async def test_a_batch_merged_twice_is_counted_once(windows_redis: WindowsRedis, redis_prefix: str) -> None:
    windows = WindowStore(windows_redis.client, prefix=redis_prefix, shards=windows_redis.shards)
    now = datetime.now(UTC).replace(microsecond=0)
    spans = [request_span(now, duration_ms=40) for _ in range(8)]
    spans += [request_span(now + timedelta(seconds=1), error="card declined") for _ in range(2)]
    spans += [request_span(now, service="inventory", operation="GET /inventory/{sku}", duration_ms=8)]
    spans += [request_span(now, kind=SpanKind.CLIENT)]  # a call out, not a request to the series
    batch = batch_of(spans)

    assert await windows.merge(batch.batch_id, aggregate(span_fields(batch.spans)))
    assert not await windows.merge(batch.batch_id, aggregate(span_fields(batch.spans)))

    slots = await windows.read_slots([PAYMENT, INVENTORY], second(now), second(now) + 1)
    payment = merge_slots(list(slots[PAYMENT].values()))
    assert (payment.requests, payment.errors) == (10, 2)
    assert slots[PAYMENT][second(now)].requests == 8
    assert payment.latency.total == 10
    p50 = payment.latency.quantile(0.5)
    assert p50 is not None
    assert abs(p50 - 40) < 1
    assert merge_slots(list(slots[INVENTORY].values())).requests == 1
    assert set(await windows.active_series(second(now) - 60)) == {PAYMENT, INVENTORY}
    messages = await windows.error_messages(PAYMENT, [second(now) // 60 * 60, second(now) // 60 * 60 + 60])
    assert messages == {"card declined": 2}
    exemplars = await windows.exemplars(PAYMENT)
    assert {e.trace_id for e in exemplars if e.is_error} <= {s.trace_id for s in spans if s.is_error}
    assert any(e.is_error for e in exemplars)


async def test_concurrent_merges_of_different_batches_add_up(
    windows_redis: WindowsRedis, redis_prefix: str
) -> None:
    windows = WindowStore(windows_redis.client, prefix=redis_prefix, shards=windows_redis.shards)
    now = datetime.now(UTC).replace(microsecond=0)
    batches = [batch_of([request_span(now) for _ in range(5)]) for _ in range(20)]
    merged = await asyncio.gather(
        *(windows.merge(b.batch_id, aggregate(span_fields(b.spans))) for b in batches)
    )
    assert all(merged)
    slots = await windows.read_slots([PAYMENT], second(now), second(now))
    assert slots[PAYMENT][second(now)].requests == 100


async def test_a_merge_cut_short_adds_only_the_rest_when_its_batch_comes_again(
    windows_redis: WindowsRedis, redis_prefix: str
) -> None:
    # Sixteen shards put the two series apart (payment in 15, inventory in 11): each shard claims
    # the batch for its own series, as a merge that reached one shard before a crash did.
    windows = WindowStore(windows_redis.client, prefix=redis_prefix, shards=16)
    now = datetime.now(UTC).replace(microsecond=0)
    spans = [request_span(now) for _ in range(3)]
    spans += [request_span(now, service="inventory", operation="GET /inventory/{sku}") for _ in range(2)]
    batch = batch_of(spans)
    deltas = aggregate(span_fields(batch.spans))

    assert await windows.merge(batch.batch_id, {PAYMENT: deltas[PAYMENT]})
    assert await windows.merge(batch.batch_id, deltas), "the inventory shard had not merged it"
    assert not await windows.merge(batch.batch_id, deltas)

    slots = await windows.read_slots([PAYMENT, INVENTORY], second(now), second(now))
    assert (slots[PAYMENT][second(now)].requests, slots[INVENTORY][second(now)].requests) == (3, 2)


async def test_scripts_redis_lost_are_loaded_again(windows_redis: WindowsRedis, redis_prefix: str) -> None:
    windows = WindowStore(windows_redis.client, prefix=redis_prefix, shards=windows_redis.shards)
    now = datetime.now(UTC).replace(microsecond=0)
    first, second_batch = batch_of([request_span(now)]), batch_of([request_span(now)])
    assert await windows.merge(first.batch_id, aggregate(span_fields(first.spans)))
    await windows_redis.client.script_flush()  # as a restart or a failover to a new primary does

    assert await windows.merge(second_batch.batch_id, aggregate(span_fields(second_batch.spans)))
    await windows_redis.client.script_flush()
    read = await windows.read_windows([PAYMENT], second(now), WindowSpans(5, 5, 0, 0))
    assert read[PAYMENT].recent.requests == 2


async def test_rollups_count_request_spans_per_minute_and_redo_the_minute_in_progress(
    pool: asyncpg.Pool,
) -> None:
    spans = SpanRepository(pool, partitioned=True)
    rollups = DetectionRepository(pool)
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    first = [request_span(minute + timedelta(seconds=i), duration_ms=10 + i) for i in range(20)]
    first += [request_span(minute + timedelta(seconds=30), error="boom") for _ in range(5)]
    first += [request_span(minute, kind=SpanKind.CLIENT) for _ in range(7)]
    await spans.ensure_partitions({minute.date(), (minute + timedelta(minutes=2)).date()})
    await spans.write_batch(stored_batch(batch_of(first)))

    until = minute + timedelta(seconds=45)
    assert await rollups.roll_up(until, first_run_from=minute - timedelta(hours=1))
    rows = await rollups.rollups(PAYMENT, [(minute - timedelta(minutes=5), minute + timedelta(minutes=5))])
    assert [(r.requests, r.errors, r.covered_until) for r in rows] == [(25, 5, until)]
    assert rows[0].first_start == minute

    later = [request_span(minute + timedelta(seconds=50)) for _ in range(3)]
    later += [request_span(minute + timedelta(seconds=70)) for _ in range(4)]
    await spans.write_batch(stored_batch(batch_of(later)))
    assert await rollups.roll_up(minute + timedelta(seconds=90), first_run_from=minute - timedelta(hours=1))
    rows = await rollups.rollups(PAYMENT, [(minute - timedelta(minutes=5), minute + timedelta(minutes=5))])
    assert [(r.minute, r.requests) for r in rows] == [(minute, 28), (minute + timedelta(minutes=1), 4)]
    assert await rollups.first_seen(PAYMENT) == minute


async def test_rollups_count_the_calls_to_peers_that_send_no_spans(pool: asyncpg.Pool) -> None:
    spans = SpanRepository(pool, partitioned=True)
    rollups = DetectionRepository(pool)
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)

    def call(peer: str, kind: NodeKind, error: str | None = None) -> Span:
        span = request_span(minute, service="inventory", operation="q", kind=SpanKind.CLIENT, error=error)
        return span.model_copy(update={"peer": peer, "peer_kind": kind})

    stored = [call("postgresql stock-db", NodeKind.DATABASE) for _ in range(4)]
    stored += [call("postgresql stock-db", NodeKind.DATABASE, error="reset")]
    stored += [call(host, NodeKind.HTTP) for host in ("api.stripe.com", "payment.shop") for _ in range(3)]
    await spans.ensure_partitions({minute.date(), (minute + timedelta(minutes=2)).date()})
    await spans.write_batch(stored_batch(batch_of(stored)))
    await pool.execute(
        "INSERT INTO service_edges (source, target, target_kind, calls, errors, window_s, last_seen) "
        "VALUES ('inventory', 'api.stripe.com', 'http', 3, 0, 30, now())"
    )
    assert await rollups.http_peers() == {"api.stripe.com"}

    assert await rollups.roll_up(minute + timedelta(seconds=45), first_run_from=minute - timedelta(hours=1))
    around = [(minute - timedelta(minutes=5), minute + timedelta(minutes=5))]
    counted = {
        name: [(r.requests, r.errors) for r in await rollups.rollups(Series(name, "q"), around)]
        for name in ("postgresql stock-db", "api.stripe.com", "payment.shop", "inventory")
    }
    assert counted == {
        "postgresql stock-db": [(5, 1)],
        "api.stripe.com": [(3, 0)],
        "payment.shop": [],  # not known to send no spans: maybe a service, counted as one
        "inventory": [],  # calls are not the caller's requests
    }


def anomaly(kind: AnomalyKind = AnomalyKind.ERROR_RATIO) -> Anomaly:
    now = datetime.now(UTC)
    return Anomaly(
        id=uuid.uuid4(),
        service=PAYMENT.service,
        operation=PAYMENT.operation,
        kind=kind,
        score=0.9,
        started_at=now - timedelta(seconds=10),
        detected_at=now,
        window_s=10,
        observed={"error_ratio": 0.5},
        baseline={"error_ratio": 0.005},
        evidence=AnomalyEvidence(trace_ids=["a" * 32]),
    )


async def test_a_series_and_kind_has_at_most_one_open_anomaly(pool: asyncpg.Pool) -> None:
    repository = DetectionRepository(pool)
    first = anomaly()
    results = await asyncio.gather(repository.open(first), *(repository.open(anomaly()) for _ in range(4)))
    assert sum(results) == 1
    assert await repository.open(anomaly(AnomalyKind.LATENCY)), "another kind is another anomaly"
    opened = await repository.open_anomalies()
    assert len(opened) == 2
    stored = next(o.anomaly for o in opened if o.anomaly.kind is AnomalyKind.ERROR_RATIO)
    assert stored.observed == {"error_ratio": 0.5}
    assert stored.evidence.trace_ids == ["a" * 32]


async def test_an_anomaly_clears_only_after_its_series_stayed_calm(pool: asyncpg.Pool) -> None:
    repository = DetectionRepository(pool)
    opened = anomaly()
    await repository.open(opened)
    now = datetime.now(UTC)
    calm_for = timedelta(seconds=10)
    assert not await repository.calm(opened.id, now, calm_for)
    assert not await repository.calm(opened.id, now + timedelta(seconds=5), calm_for)
    await repository.still_anomalous(opened.id, 0.95)  # trouble again: the calm starts over
    assert not await repository.calm(opened.id, now + timedelta(seconds=11), calm_for)
    assert await repository.calm(opened.id, now + timedelta(seconds=21), calm_for)
    assert await repository.open_anomalies() == []
    assert await repository.open(anomaly()), "once cleared, the series can open a new one"


async def test_series_silent_past_the_history_are_forgotten(
    windows_redis: WindowsRedis, redis_prefix: str
) -> None:
    windows = WindowStore(windows_redis.client, prefix=redis_prefix, shards=windows_redis.shards)
    now = datetime.now(UTC).replace(microsecond=0)
    batch = batch_of([request_span(now)])
    await windows.merge(batch.batch_id, aggregate(span_fields(batch.spans)))
    assert await windows.active_series(second(now) + 1) == []
    assert await windows.active_series(second(now) - 60) == [], "forgotten, not just filtered"
    assert await windows_redis.client.hlen(windows.keys.key("series")) == 0


async def test_a_window_read_sums_its_seconds_in_redis(
    windows_redis: WindowsRedis, redis_prefix: str
) -> None:
    windows = WindowStore(windows_redis.client, prefix=redis_prefix, shards=windows_redis.shards)
    now = datetime.now(UTC).replace(microsecond=0)
    spans = [
        request_span(now + timedelta(seconds=s), duration_ms=10.0 * (s + 1), error="boom" if s == 4 else None)
        for s in range(6)
        for _ in range(s + 1)
    ]
    batch = batch_of(spans)
    await windows.merge(batch.batch_id, aggregate(span_fields(batch.spans)))
    t = second(now)
    # now = t + 5: the recent window is t+3..t+5, the traffic window t..t+1 (settled 3 s).
    read = await windows.read_windows([PAYMENT, INVENTORY], t + 5, WindowSpans(3, 2, 3, 30))
    recent = read[PAYMENT].recent
    assert (recent.requests, recent.errors, read[PAYMENT].traffic_requests) == (4 + 5 + 6, 5, 1 + 2)
    assert read[PAYMENT].settle_s == 3
    assert recent.latency.total == 15
    p50 = recent.latency.quantile(0.5)
    assert p50 is not None
    assert abs(p50 - 50) < 1
    assert read[INVENTORY].recent.requests == 0


async def test_the_traffic_window_waits_as_long_as_spans_have_been_arriving_late(
    windows_redis: WindowsRedis, redis_prefix: str
) -> None:
    windows = WindowStore(windows_redis.client, prefix=redis_prefix, shards=windows_redis.shards)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    t = second(start)
    spans = [request_span(start + timedelta(seconds=s)) for s in range(20) for _ in range(10)]
    batch = batch_of(spans)
    # Exported in one go 8 s after the oldest span started, as an SDK that exports rarely does.
    await windows.merge(batch.batch_id, aggregate(span_fields(batch.spans)), received_s=t + 8.2)
    read = await windows.read_windows([PAYMENT], t + 19, WindowSpans(10, 5, 2, 30))
    assert read[PAYMENT].settle_s == 9
    assert read[PAYMENT].traffic_requests == 50, "seconds t+5..t+9: before the settle, all complete"
    capped = await windows.read_windows([PAYMENT], t + 19, WindowSpans(10, 5, 2, 4))
    assert capped[PAYMENT].settle_s == 4
