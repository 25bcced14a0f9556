"""Where the trouble in one trace started: the blame walk over its span tree.

For errors, the origin is the deepest failing span whose own children succeeded: a caller that
failed because its callee failed has a failing child, so it is not an origin. One exception:
a failing client span whose callee succeeded but took far longer than usual failed because the
callee was slow (a timeout), so the blame is the callee's latency.

For latency, each span's self-time (its duration minus the time covered by its children) is
compared with the usual self-time of spans like it; the blame is shared among the spans in
proportion to the self-time they gained.

Blame goes to request series, the level anomalies are detected at: the (service, operation) of
the nearest server or consumer span (or the root) above a span within its own service. A call to
an inferred peer (a database, a cache, an API that sends no spans: no server span answers it) is
the peer's own series, (peer, operation), so a slow database is blamed, not the service waiting
on it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiops_core.models import AnomalyKind
from aiops_core.peers import CALLER_KINDS, REQUEST_KINDS, NodeKind

# A callee that took this many times its usual self-time (and SLOW_CALLEE_MIN_MS more) is slow.
SLOW_CALLEE_FACTOR = 3.0
SLOW_CALLEE_MIN_MS = 50.0
# Self-time gained below this is jitter, not blame.
MIN_EXCESS_MS = 5.0


@dataclass(frozen=True)
class StoredSpan:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    service: str
    operation: str
    kind: str
    start_time: datetime
    duration_ms: float
    is_error: bool
    error_message: str | None = None
    peer: str | None = None
    peer_kind: str | None = None
    instance: str | None = None

    @property
    def key(self) -> SpanKey:
        return (self.service, self.operation, self.kind)


SpanKey = tuple[str, str, str]
Series = tuple[str, str]
Blame = tuple[str, str, AnomalyKind]  # service, operation of the request series, kind


@dataclass(frozen=True)
class Origin:
    """One place a trace's trouble started, with its share of that trace's blame."""

    blame: Blame
    share: float
    span: StoredSpan
    path: tuple[StoredSpan, ...]  # from the trace's root down to `span`


class TraceTree:
    def __init__(self, spans: Iterable[StoredSpan], inferred: Collection[str] = ()) -> None:
        """`inferred`: the HTTP peers the service graph found no server span answering; a
        database, cache or queue peer is taken as inferred without it."""
        self.inferred = inferred
        self.spans = {span.span_id: span for span in spans}
        self.children: dict[str, list[StoredSpan]] = defaultdict(list)
        for span in self.spans.values():
            if span.parent_span_id is not None and span.parent_span_id in self.spans:
                self.children[span.parent_span_id].append(span)

    def parent(self, span: StoredSpan) -> StoredSpan | None:
        return self.spans.get(span.parent_span_id) if span.parent_span_id else None

    def path_to(self, span: StoredSpan) -> tuple[StoredSpan, ...]:
        path = [span]
        while (parent := self.parent(path[-1])) is not None and len(path) < 64:
            path.append(parent)
        return tuple(reversed(path))

    def series_of(self, span: StoredSpan) -> Series:
        """The request series a span belongs to: the peer's for an unanswered call to an inferred
        peer; else the nearest request span above it (or itself) in its own service, else the
        topmost span of its service on the way up."""
        if self.calls_inferred_peer(span):
            assert span.peer is not None
            return span.peer, span.operation
        current = span
        while True:
            if current.kind in REQUEST_KINDS:
                return current.service, current.operation
            parent = self.parent(current)
            if parent is None or parent.service != span.service:
                return current.service, current.operation
            current = parent

    def calls_inferred_peer(self, span: StoredSpan) -> bool:
        if span.kind not in CALLER_KINDS or span.peer is None or self.children.get(span.span_id):
            return False
        return span.peer_kind != NodeKind.HTTP or span.peer in self.inferred

    def self_time_ms(self, span: StoredSpan) -> float:
        """Duration minus the union of the children's time within the span (children may overlap)."""
        covered = 0.0
        reach = 0.0  # offsets from the span's start, in ms (exact, unlike epoch floats)
        for child in sorted(self.children.get(span.span_id, ()), key=lambda c: c.start_time):
            offset = (child.start_time - span.start_time) / timedelta(milliseconds=1)
            child_start = max(reach, offset)
            child_end = min(span.duration_ms, offset + child.duration_ms)
            if child_end > child_start:
                covered += child_end - child_start
                reach = child_end
        return max(0.0, span.duration_ms - covered)


def usual_self_times(trees: Iterable[TraceTree]) -> dict[SpanKey, float]:
    """Median self-time of each kind of span across traces from before the trouble."""
    samples: dict[SpanKey, list[float]] = defaultdict(list)
    for tree in trees:
        for span in tree.spans.values():
            samples[span.key].append(tree.self_time_ms(span))
    return {key: sorted(values)[len(values) // 2] for key, values in samples.items()}


def error_origins(tree: TraceTree, usual: Mapping[SpanKey, float]) -> list[Origin]:
    failing = [s for s in tree.spans.values() if s.is_error]
    origins: list[tuple[Blame, StoredSpan]] = []
    for span in failing:
        children = tree.children.get(span.span_id, [])
        if any(child.is_error for child in children):
            continue
        slow = [child for child in children if _is_slow(tree, child, usual)]
        if slow:
            # It failed waiting for a callee that was too slow: blame the callee's latency.
            callee = max(slow, key=tree.self_time_ms)
            origins.append(((*tree.series_of(callee), AnomalyKind.LATENCY), callee))
        else:
            origins.append(((*tree.series_of(span), AnomalyKind.ERROR_RATIO), span))
    return _shared(tree, [(blame, span, 1.0) for blame, span in origins])


def latency_origins(tree: TraceTree, usual: Mapping[SpanKey, float]) -> list[Origin]:
    gains = []
    for span in tree.spans.values():
        baseline = usual.get(span.key)
        if baseline is None:
            continue
        excess = tree.self_time_ms(span) - baseline
        if excess >= max(MIN_EXCESS_MS, 0.5 * baseline):
            gains.append(((*tree.series_of(span), AnomalyKind.LATENCY), span, excess))
    return _shared(tree, gains)


def _is_slow(tree: TraceTree, span: StoredSpan, usual: Mapping[SpanKey, float]) -> bool:
    """Whether a span, or anything below it, took far longer than usual."""
    stack = [span]
    while stack:
        current = stack.pop()
        baseline = usual.get(current.key)
        if baseline is not None:
            gained = tree.self_time_ms(current)
            if gained >= SLOW_CALLEE_FACTOR * baseline and gained - baseline >= SLOW_CALLEE_MIN_MS:
                return True
        stack.extend(tree.children.get(current.span_id, ()))
    return False


def _shared(tree: TraceTree, weighted: Sequence[tuple[Blame, StoredSpan, float]]) -> list[Origin]:
    """Origins with the trace's blame (1 in all) shared in proportion to their weights."""
    total = sum(weight for _, _, weight in weighted)
    if total <= 0:
        return []
    return [
        Origin(blame=blame, share=weight / total, span=span, path=tree.path_to(span))
        for blame, span, weight in weighted
    ]
