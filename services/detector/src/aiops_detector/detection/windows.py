"""Per-series window deltas built from one span batch, in memory, before any Redis call.

A series is (service, operation) of the spans that are requests to a service: server and
consumer spans, and root spans of any kind. A peer that sends no spans of its own (a database, a
cache, a queue, an HTTP API: aiops_core.peers) has series too, (peer, operation), of the calls
its callers make to it: its latency and errors as the client side sees them.

A batch becomes one delta per (series, second): request count, error count and a latency
histogram, plus a few exemplar traces and the error messages seen — so that merging it into the
shared windows costs one Redis round trip however many spans it holds.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from aiops_core.models import Span, SpanKind
from aiops_core.peers import NodeKind
from aiops_detector.detection.sketch import LatencyHistogram

REQUEST_KINDS = frozenset({SpanKind.SERVER, SpanKind.CONSUMER})
CALLER_KINDS = frozenset({SpanKind.CLIENT, SpanKind.PRODUCER})
# Per series and batch: enough exemplars to show a few traces, few enough to stay cheap.
EXEMPLARS_PER_BATCH = 3
MESSAGE_MAX_CHARS = 200


@dataclass(frozen=True, order=True)
class Series:
    service: str
    operation: str

    @property
    def id(self) -> str:
        """A short stable id for key names; the names themselves can hold any character."""
        digest = hashlib.blake2b(f"{self.service}\x00{self.operation}".encode(), digest_size=8)
        return digest.hexdigest()

    def __str__(self) -> str:
        return f"{self.service} {self.operation}"


@dataclass
class SlotDelta:
    requests: int = 0
    errors: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)


@dataclass(frozen=True)
class Exemplar:
    trace_id: str
    span_id: str
    start_s: float
    duration_ms: float
    is_error: bool
    error_message: str | None


@dataclass
class SeriesDelta:
    slots: dict[int, SlotDelta] = field(default_factory=dict)
    exemplars: list[Exemplar] = field(default_factory=list)
    # Error message -> count, per minute (epoch seconds of the minute's start).
    messages: dict[int, Counter[str]] = field(default_factory=dict)
    # Start of the oldest span: how late the batch came is measured from it.
    oldest_start_s: float = math.inf


def is_request(span: Span) -> bool:
    return span.kind in REQUEST_KINDS or span.parent_span_id is None


def series_of(span: Span, http_peers: Collection[str]) -> Series | None:
    """The series a span counts in: its service's for a request, its peer's for a call to a
    database, cache or queue, or to an HTTP peer the service graph found sending no spans
    (`http_peers`; an address that a service answers is that service, already counted)."""
    if is_request(span):
        return Series(span.service, span.operation)
    peer = span.peer
    if (
        peer is not None
        and span.kind in CALLER_KINDS
        and (span.peer_kind is not NodeKind.HTTP or peer in http_peers)
    ):
        return Series(peer, span.operation)
    return None


def aggregate(
    spans: Iterable[Span], slot_s: int, http_peers: Collection[str] = ()
) -> dict[Series, SeriesDelta]:
    deltas: dict[Series, SeriesDelta] = {}
    errors_by_series: dict[Series, list[Exemplar]] = {}
    slowest_by_series: dict[Series, list[Exemplar]] = {}
    for span in spans:
        series = series_of(span, http_peers)
        if series is None:
            continue
        delta = deltas.setdefault(series, SeriesDelta())
        start_s = span.start_time_unix_nano / 1e9
        delta.oldest_start_s = min(delta.oldest_start_s, start_s)
        slot = int(start_s) // slot_s * slot_s
        slot_delta = delta.slots.get(slot)
        if slot_delta is None:
            slot_delta = delta.slots[slot] = SlotDelta()
        duration_ms = span.duration_ns / 1e6
        slot_delta.requests += 1
        slot_delta.latency.add(duration_ms)
        exemplar = Exemplar(
            span.trace_id, span.span_id, start_s, duration_ms, span.is_error, span.error_message
        )
        if span.is_error:
            slot_delta.errors += 1
            minute = int(start_s) // 60 * 60
            message = (span.error_message or f"HTTP {span.http_status or 'error'}")[:MESSAGE_MAX_CHARS]
            delta.messages.setdefault(minute, Counter())[message] += 1
            errors_by_series.setdefault(series, []).append(exemplar)
        slowest_by_series.setdefault(series, []).append(exemplar)
    for series, delta in deltas.items():
        errors = errors_by_series.get(series, [])[:EXEMPLARS_PER_BATCH]
        slowest = sorted(slowest_by_series[series], key=lambda e: e.duration_ms, reverse=True)
        delta.exemplars = errors + [e for e in slowest[:EXEMPLARS_PER_BATCH] if not e.is_error]
    return deltas
