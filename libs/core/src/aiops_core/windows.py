"""Per-series window deltas built from one span batch, in the pass that builds the batch.

A series is (service, operation) of the spans that are requests to a service: server and
consumer spans, and root spans of any kind. A peer that sends no spans of its own (a database, a
cache, a queue, an HTTP API: aiops_core.peers) has series too, (peer, operation), of the calls
its callers make to it: its latency and errors as the client side sees them.

A batch becomes one delta per (series, second): request count, error count and a latency
histogram, plus a few exemplar traces and the error messages seen. Ingest computes them while the
spans are at hand and sends them in the batch's message (`WindowBatch`), so that the detector
merges a few dozen deltas into Redis without decoding a single span.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from aiops_core.models import SpanFields
from aiops_core.peers import CALLER_KINDS, REQUEST_KINDS, NodeKind
from aiops_core.sketch import LatencyHistogram

# Per series and batch: enough exemplars to show a few traces, few enough to stay cheap.
EXEMPLARS_PER_BATCH = 3
MESSAGE_MAX_CHARS = 200


@dataclass(frozen=True, order=True)
class Series:
    service: str
    operation: str

    @cached_property  # an evaluation asks for it many times a tick
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
    # Calls to an HTTP peer: they count only once the service graph found that the peer sends no
    # spans (an address a service answers is that service, already counted by its own spans).
    http_peer: bool = False


def series_of(span: Mapping[str, Any]) -> tuple[str, str] | None:
    """The series a span counts in, as (service, operation): its service's for a request, its
    peer's for a call to a node that may send no spans. A tuple rather than a `Series`: this
    runs for every span ingest receives, and a frozen dataclass costs several times more."""
    kind = span["kind"]
    if kind in REQUEST_KINDS or span["parent_span_id"] is None:
        return span["service"], span["operation"]
    peer = span["peer"]
    if peer is not None and kind in CALLER_KINDS:
        return peer, span["operation"]
    return None


def aggregate(spans: Iterable[SpanFields]) -> dict[Series, SeriesDelta]:
    """One delta per series the spans count in, by second."""
    deltas: dict[tuple[str, str], SeriesDelta] = {}
    members: dict[tuple[str, str], list[SpanFields]] = {}
    for span in spans:
        series = series_of(span)
        if series is None:
            continue
        delta = deltas.get(series)
        if delta is None:
            delta = deltas[series] = SeriesDelta(
                http_peer=span["peer"] == series[0] and span["peer_kind"] == NodeKind.HTTP
            )
            members[series] = []
        members[series].append(span)
        start_s = span["start_time_unix_nano"] / 1e9
        if start_s < delta.oldest_start_s:
            delta.oldest_start_s = start_s
        slot = int(start_s)
        slot_delta = delta.slots.get(slot)
        if slot_delta is None:
            slot_delta = delta.slots[slot] = SlotDelta()
        slot_delta.requests += 1
        slot_delta.latency.add(span["duration_ns"] / 1e6)
        if span["is_error"]:
            slot_delta.errors += 1
            message = (span["error_message"] or f"HTTP {span['http_status'] or 'error'}")[:MESSAGE_MAX_CHARS]
            delta.messages.setdefault(slot // 60 * 60, Counter())[message] += 1
    for series, delta in deltas.items():
        delta.exemplars = _exemplars(members[series])
    return {Series(*series): delta for series, delta in deltas.items()}


def _exemplars(spans: list[SpanFields]) -> list[Exemplar]:
    """The first failed requests, then the slowest of the others."""
    failed = [span for span in spans if span["is_error"]][:EXEMPLARS_PER_BATCH]
    slowest = heapq.nlargest(EXEMPLARS_PER_BATCH, spans, key=lambda span: span["duration_ns"])
    chosen = failed + [span for span in slowest if not span["is_error"]]
    return [
        Exemplar(
            span["trace_id"],
            span["span_id"],
            span["start_time_unix_nano"] / 1e9,
            span["duration_ns"] / 1e6,
            span["is_error"],
            span["error_message"],
        )
        for span in chosen
    ]


def counted(deltas: Mapping[Series, SeriesDelta], http_peers: Collection[str]) -> dict[Series, SeriesDelta]:
    """The deltas of the series that count now: all but those of HTTP peers the service graph has
    not (yet) found sending no spans (`http_peers`)."""
    return {
        series: delta
        for series, delta in deltas.items()
        if not delta.http_peer or series.service in http_peers
    }


# -- on the bus ------------------------------------------------------------------------------


class WireSlot(BaseModel):
    second: int
    requests: int = Field(ge=0)
    errors: int = Field(ge=0)
    latency: dict[int, int] = Field(description="Latency histogram bucket -> count (aiops_core.sketch).")


class WireSeriesDelta(BaseModel):
    service: str
    operation: str
    http_peer: bool
    oldest_start_s: float
    slots: list[WireSlot] = Field(min_length=1)
    messages: dict[int, dict[str, int]] = Field(description="Minute -> error message -> count.")
    exemplars: list[Exemplar]


class WindowBatch(BaseModel):
    """A span batch as the detector reads it: its window deltas, not its spans."""

    model_config = ConfigDict(frozen=True)

    batch_id: UUID
    created_at_unix_nano: int = Field(gt=0)
    windows: list[WireSeriesDelta]

    def deltas(self) -> dict[Series, SeriesDelta]:
        return {
            Series(wire.service, wire.operation): SeriesDelta(
                slots={
                    slot.second: SlotDelta(slot.requests, slot.errors, LatencyHistogram(slot.latency))
                    for slot in wire.slots
                },
                exemplars=wire.exemplars,
                messages={minute: Counter(counts) for minute, counts in wire.messages.items()},
                oldest_start_s=wire.oldest_start_s,
                http_peer=wire.http_peer,
            )
            for wire in self.windows
        }


def wire_deltas(deltas: Mapping[Series, SeriesDelta]) -> list[dict[str, Any]]:
    """`deltas` as `WireSeriesDelta` values, built as plain dicts for the encoder."""
    return [
        {
            "service": series.service,
            "operation": series.operation,
            "http_peer": delta.http_peer,
            "oldest_start_s": delta.oldest_start_s,
            "slots": [
                {
                    "second": second,
                    "requests": slot.requests,
                    "errors": slot.errors,
                    "latency": dict(slot.latency.counts),
                }
                for second, slot in delta.slots.items()
            ],
            "messages": {minute: dict(counts) for minute, counts in delta.messages.items()},
            "exemplars": [exemplar.__dict__ for exemplar in delta.exemplars],
        }
        for series, delta in deltas.items()
    ]
