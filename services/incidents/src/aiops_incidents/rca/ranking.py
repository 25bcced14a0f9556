"""Root-cause ranking: the candidates of an incident, best first, each with its evidence.

Two sources of blame, combined:
- the traces (most of the weight): in each trace that went wrong, where the trouble started
  (see `traces`); a candidate's trace blame is its average share over the traces analysed;
- the member anomalies and the service graph: an anomalous series whose service calls another
  service with an anomaly of its own is more likely a victim than a cause; traffic flows the
  other way, so for a traffic anomaly it is the caller that is likelier the cause.

With no trace to go by (spans not stored yet, or a traffic-only incident) the second source
alone decides. A change to a candidate just before its trouble began raises it (`changes`).

A candidate may be a peer inferred from its callers' spans (a database nobody instrumented): its
evidence then says which services saw it misbehave.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiops_core.models import Anomaly, AnomalyKind, ErrorMessageCount
from aiops_core.peers import NodeKind
from aiops_incidents.rca.changes import CHANGE_BOOST, change_words, changes_before
from aiops_incidents.rca.traces import (
    Blame,
    Origin,
    SpanKey,
    StoredSpan,
    TraceTree,
    error_origins,
    latency_origins,
)
from aiops_incidents.schemas import CandidateChange, CandidateEvidence, Change, RootCauseCandidate

TRACE_WEIGHT = 0.8
# A series whose service has an anomalous callee keeps this share of its anomaly's weight.
VICTIM_DISCOUNT = 0.3
TRAFFIC_KINDS = frozenset({AnomalyKind.TRAFFIC_DROP, AnomalyKind.TRAFFIC_SURGE})
MAX_CANDIDATES = 5
EVIDENCE_HALF_LIFE = timedelta(seconds=15)
MAX_EXEMPLARS = 3


@dataclass(frozen=True)
class TroubledTrace:
    """A trace of the incident, whether it was picked for a failure or for being slow, and how
    much its verdict counts (see `evidence_weight`)."""

    tree: TraceTree
    failed: bool
    weight: float = 1.0


def evidence_weight(anomaly: Anomaly, first_detected_at: datetime) -> float:
    """How much the traces picked for a member anomaly count, in all: its score, halved for every
    EVIDENCE_HALF_LIFE that it was detected after the incident's first anomaly. The trouble
    started where it was seen first; what shows up later (a caller slowing down while it
    handles its callee's failures, say) is more likely a consequence."""
    delay = max(0.0, (anomaly.detected_at - first_detected_at).total_seconds())
    return float(anomaly.score * 0.5 ** (delay / EVIDENCE_HALF_LIFE.total_seconds()))


@dataclass(frozen=True)
class TraceSample:
    """Traces of the incident, and traces from before it to learn usual self-times from."""

    troubled: Sequence[TroubledTrace] = ()
    usual_self_ms: Mapping[SpanKey, float] = field(default_factory=dict)


@dataclass
class _Tally:
    trace_blame: float = 0.0
    anomaly_weight: float = 0.0
    victim: bool = False  # its service has an anomalous dependency (or, for traffic, caller)
    origins: list[Origin] = field(default_factory=list)
    messages: Counter[str] = field(default_factory=Counter)
    changes: list[CandidateChange] = field(default_factory=list)


def rank(
    anomalies: Sequence[Anomaly],
    edges: Iterable[tuple[str, str]],
    sample: TraceSample,
    peer_kinds: Mapping[str, NodeKind] | None = None,
    changes: Sequence[Change] = (),
) -> list[RootCauseCandidate]:
    """`peer_kinds`: the peers the service graph inferred, by name, with what each one is;
    `changes`: the changes of the incident's time, to any service."""
    edges = list(edges)
    tallies: dict[Blame, _Tally] = defaultdict(_Tally)
    _tally_traces(tallies, sample)
    _tally_anomalies(tallies, anomalies, edges)
    _tally_changes(tallies, anomalies, changes)
    total = sum(_raw(t) for t in tallies.values())
    if total <= 0:
        return []
    by_series = {(a.service, a.operation, a.kind): a for a in anomalies}
    callers: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        callers[target].add(source)
    peers = _Peers(peer_kinds or {}, callers, sample.usual_self_ms)
    candidates = [
        _candidate(blame, tally, _raw(tally) / total, by_series.get(blame), peers)
        for blame, tally in tallies.items()
    ]
    candidates.sort(key=lambda c: (-c.score, c.service, c.operation, c.kind))
    return candidates[:MAX_CANDIDATES]


def _raw(tally: _Tally) -> float:
    raw = TRACE_WEIGHT * tally.trace_blame + (1 - TRACE_WEIGHT) * tally.anomaly_weight
    return raw * (1 + CHANGE_BOOST) if tally.changes else raw


def _tally_changes(
    tallies: dict[Blame, _Tally], anomalies: Sequence[Anomaly], changes: Sequence[Change]
) -> None:
    """Each candidate's changes shortly before its service's trouble began (the incident's, for a
    candidate with no anomaly of its own)."""
    if not changes or not anomalies:
        return
    began: dict[str, datetime] = {}
    for anomaly in anomalies:
        began[anomaly.service] = min(began.get(anomaly.service, anomaly.started_at), anomaly.started_at)
    incident_began = min(began.values())
    for blame, tally in tallies.items():
        service = blame[0]
        own = [change for change in changes if change.service == service]
        tally.changes = changes_before(own, began.get(service, incident_began))


def _tally_traces(tallies: dict[Blame, _Tally], sample: TraceSample) -> None:
    judged = 0.0
    for trace in sample.troubled:
        origins = error_origins(trace.tree, sample.usual_self_ms) if trace.failed else []
        if not origins:
            origins = latency_origins(trace.tree, sample.usual_self_ms)
        if not origins:
            continue
        judged += trace.weight
        for origin in origins:
            tally = tallies[origin.blame]
            tally.trace_blame += origin.share * trace.weight
            tally.origins.append(origin)
            if origin.span.is_error and origin.span.error_message:
                tally.messages[origin.span.error_message] += 1
    for tally in tallies.values():
        tally.trace_blame = tally.trace_blame / judged if judged > 0 else 0.0


def _tally_anomalies(
    tallies: dict[Blame, _Tally], anomalies: Sequence[Anomaly], edges: Iterable[tuple[str, str]]
) -> None:
    callees: dict[str, set[str]] = defaultdict(set)
    callers: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        if source != target:
            callees[source].add(target)
            callers[target].add(source)
    troubled = {a.service for a in anomalies if a.kind not in TRAFFIC_KINDS}
    traffic = {a.service for a in anomalies if a.kind in TRAFFIC_KINDS}
    weights = {}
    for anomaly in anomalies:
        if anomaly.kind in TRAFFIC_KINDS:
            victim = bool(callers[anomaly.service] & traffic)
        else:
            victim = bool(callees[anomaly.service] & troubled)
        blame = (anomaly.service, anomaly.operation, anomaly.kind)
        tallies[blame].victim = victim
        weights[blame] = anomaly.score * (VICTIM_DISCOUNT if victim else 1.0)
    total = sum(weights.values())
    for blame, weight in weights.items():
        tallies[blame].anomaly_weight = weight / total if total > 0 else 0.0


@dataclass(frozen=True)
class _Peers:
    """What the ranking knows of inferred peers: their kinds, callers and usual call times."""

    kinds: Mapping[str, NodeKind]
    callers: Mapping[str, set[str]]
    usual_self_ms: Mapping[SpanKey, float]

    def kind_of(self, name: str, origins: Sequence[Origin]) -> NodeKind:
        for origin in origins:
            if origin.span.peer == name and origin.span.peer_kind:
                return NodeKind(origin.span.peer_kind)
        return self.kinds.get(name, NodeKind.SERVICE)

    def seen_from(self, name: str, origins: Sequence[Origin]) -> list[str]:
        """The services whose calls to the peer went wrong (from the traces), else its callers."""
        found = {o.span.service for o in origins if o.span.peer == name}
        return sorted(found or self.callers.get(name, set()))

    def reason(self, blame: Blame, origins: Sequence[Origin], anomaly: Anomaly | None) -> str | None:
        """'postgresql stock-db: p95 300 ms against 2 ms usual, seen from inventory', from the
        troubled calls (or the peer's own anomaly); None for a service."""
        name, _operation, kind = blame
        if self.kind_of(name, origins) is NodeKind.SERVICE:
            return None
        callers = self.seen_from(name, origins)
        seen = f", seen from {_and(callers)}" if callers else ""
        calls = [o.span for o in origins]
        if kind is AnomalyKind.LATENCY:
            now, usual = _p95_against_usual(calls, self.usual_self_ms, anomaly)
            if now is not None and usual is not None:
                return f"{name}: p95 {now:.0f} ms against {usual:.0f} ms usual{seen}"
            return f"{name}: slower than usual{seen}"
        failed = sum(1 for span in calls if span.is_error)
        if failed:
            return f"{name}: {failed} call(s) failed in the troubled traces{seen}"
        return f"{name}: failing{seen}"


def _p95_against_usual(
    calls: Sequence[StoredSpan], usual_self_ms: Mapping[SpanKey, float], anomaly: Anomaly | None
) -> tuple[float | None, float | None]:
    if anomaly is not None and anomaly.observed.get("p95_ms") is not None:
        return anomaly.observed.get("p95_ms"), anomaly.baseline.get("p95_ms")
    if not calls:
        return None, None
    durations = sorted(span.duration_ms for span in calls)
    p95 = durations[min(len(durations) - 1, int(0.95 * len(durations)))]
    usual = [usual_self_ms[span.key] for span in calls if span.key in usual_self_ms]
    return p95, (sorted(usual)[len(usual) // 2] if usual else None)


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _candidate(
    blame: Blame, tally: _Tally, score: float, anomaly: Anomaly | None, peers: _Peers
) -> RootCauseCandidate:
    service, operation, kind = blame
    exemplars = _exemplars(tally.origins)
    traces = len(tally.origins)
    peer_reason = peers.reason(blame, tally.origins, anomaly)
    if peer_reason is not None:
        reason = peer_reason
    elif traces:
        where = "its own latency" if kind is AnomalyKind.LATENCY else "it failed while its callees succeeded"
        reason = f"where the trouble started in {traces} troubled trace(s): {where}"
    elif anomaly is None:
        reason = "no trace or anomaly evidence"
    elif kind is AnomalyKind.METRIC:
        reason = _metric_reason(anomaly, tally.victim)
    elif tally.victim:
        reason = "anomalous, but so is a service it depends on: more likely a victim"
    else:
        reason = "anomalous, with no anomalous dependency"
    if tally.changes:
        reason = f"{change_words(service, kind, tally.changes[0])}; {reason}"
    messages = [ErrorMessageCount(message=m, count=c) for m, c in tally.messages.most_common(5)]
    if not messages and anomaly is not None:
        messages = anomaly.evidence.error_messages
    node_kind = peers.kind_of(service, tally.origins)
    return RootCauseCandidate(
        service=service,
        operation=operation,
        kind=kind,
        node_kind=node_kind,
        score=round(min(1.0, score), 4),
        reason=reason,
        evidence=CandidateEvidence(
            seen_from=peers.seen_from(service, tally.origins) if node_kind is not NodeKind.SERVICE else [],
            trace_ids=[origin.span.trace_id for origin in exemplars]
            or (anomaly.evidence.trace_ids[:MAX_EXEMPLARS] if anomaly else []),
            span_paths=[[f"{s.service} {s.operation}" for s in origin.path] for origin in exemplars],
            error_messages=messages,
            observed=anomaly.observed if anomaly else {},
            baseline=anomaly.baseline if anomaly else {},
            changes=tally.changes,
        ),
    )


def _metric_reason(anomaly: Anomaly, victim: bool) -> str:
    """'8 against 0.5 usual (16 x normal) since 12:00:40 UTC', from a metric anomaly's evidence."""
    measure = next((key for key in ("value", "rate_per_s", "mean") if key in anomaly.observed), None)
    now, usual = anomaly.observed.get(measure or ""), anomaly.baseline.get(measure or "")
    if now is None or usual is None:
        return "its metric is far from normal"
    times = anomaly.observed.get("times_normal")
    ratio = f" ({times:g} x normal)" if times is not None else ""
    per_s = "/s" if measure == "rate_per_s" else ""
    since = f" since {anomaly.started_at:%H:%M:%S} UTC"
    more = "; a service it depends on is anomalous too" if victim else ""
    return f"{now:.4g}{per_s} against {usual:.4g}{per_s} usual{ratio}{since}{more}"


def _exemplars(origins: Sequence[Origin]) -> list[Origin]:
    """The clearest exemplars: a whole trace's blame first, one per trace."""
    seen: set[str] = set()
    chosen = []
    for origin in sorted(origins, key=lambda o: -o.share):
        if origin.span.trace_id not in seen:
            seen.add(origin.span.trace_id)
            chosen.append(origin)
        if len(chosen) == MAX_EXEMPLARS:
            break
    return chosen
