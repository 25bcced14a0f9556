"""Root-cause ranking: the candidates of an incident, best first, each with its evidence.

Two sources of blame, combined:
- the traces (most of the weight): in each trace that went wrong, where the trouble started
  (see `traces`); a candidate's trace blame is its average share over the traces analysed;
- the member anomalies and the service graph: an anomalous series whose service calls another
  service with an anomaly of its own is more likely a victim than a cause; traffic flows the
  other way, so for a traffic anomaly it is the caller that is likelier the cause.

With no trace to go by (spans not stored yet, or a traffic-only incident) the second source
alone decides.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiops_core.models import Anomaly, AnomalyKind, ErrorMessageCount
from aiops_incidents.rca.traces import Blame, Origin, SpanKey, TraceTree, error_origins, latency_origins
from aiops_incidents.schemas import CandidateEvidence, RootCauseCandidate

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


def rank(
    anomalies: Sequence[Anomaly], edges: Iterable[tuple[str, str]], sample: TraceSample
) -> list[RootCauseCandidate]:
    tallies: dict[Blame, _Tally] = defaultdict(_Tally)
    _tally_traces(tallies, sample)
    _tally_anomalies(tallies, anomalies, edges)
    total = sum(_raw(t) for t in tallies.values())
    if total <= 0:
        return []
    by_series = {(a.service, a.operation, a.kind): a for a in anomalies}
    candidates = [
        _candidate(blame, tally, _raw(tally) / total, by_series.get(blame))
        for blame, tally in tallies.items()
    ]
    candidates.sort(key=lambda c: (-c.score, c.service, c.operation, c.kind))
    return candidates[:MAX_CANDIDATES]


def _raw(tally: _Tally) -> float:
    return TRACE_WEIGHT * tally.trace_blame + (1 - TRACE_WEIGHT) * tally.anomaly_weight


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


def _candidate(blame: Blame, tally: _Tally, score: float, anomaly: Anomaly | None) -> RootCauseCandidate:
    service, operation, kind = blame
    exemplars = _exemplars(tally.origins)
    traces = len(tally.origins)
    if traces:
        where = "its own latency" if kind is AnomalyKind.LATENCY else "it failed while its callees succeeded"
        reason = f"where the trouble started in {traces} troubled trace(s): {where}"
    elif anomaly is None:
        reason = "no trace or anomaly evidence"
    elif tally.victim:
        reason = "anomalous, but so is a service it depends on: more likely a victim"
    else:
        reason = "anomalous, with no anomalous dependency"
    messages = [ErrorMessageCount(message=m, count=c) for m, c in tally.messages.most_common(5)]
    if not messages and anomaly is not None:
        messages = anomaly.evidence.error_messages
    return RootCauseCandidate(
        service=service,
        operation=operation,
        kind=kind,
        score=round(min(1.0, score), 4),
        reason=reason,
        evidence=CandidateEvidence(
            trace_ids=[origin.span.trace_id for origin in exemplars]
            or (anomaly.evidence.trace_ids[:MAX_EXEMPLARS] if anomaly else []),
            span_paths=[[f"{s.service} {s.operation}" for s in origin.path] for origin in exemplars],
            error_messages=messages,
            observed=anomaly.observed if anomaly else {},
            baseline=anomaly.baseline if anomaly else {},
        ),
    )


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
