"""The incident domain: anomalies in, one incident per problem out, with its root cause ranked,
its severity assessed and its lifecycle kept; and the actions people take on it.

Every change runs in one transaction holding the incidents advisory lock (see repository), so
any number of replicas consuming anomaly events at once still make one incident per problem,
and the timeline rows written in that transaction are the outbox of the notifications.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from aiops_core.errors import NotFoundError
from aiops_core.models import Anomaly, AnomalyKind
from aiops_core.peers import NodeKind
from aiops_core.store.repository import Database
from aiops_incidents.changes.repository import ChangeRepository
from aiops_incidents.clock import Clock, utc_now
from aiops_incidents.correlation import RootKey, ServiceGraph, incident_for
from aiops_incidents.lifecycle import (
    SYSTEM,
    current_episode,
    last_cleared,
    next_status,
    reopenable,
    resolvable,
)
from aiops_incidents.live_stats import LiveStats
from aiops_incidents.metrics import IncidentMetrics
from aiops_incidents.rca.changes import CHANGE_WINDOW
from aiops_incidents.rca.instances import folded, instance_cause
from aiops_incidents.rca.log_evidence import group_logs
from aiops_incidents.rca.ranking import TRAFFIC_KINDS, TraceSample, TroubledTrace, evidence_weight, rank
from aiops_incidents.rca.repository import TraceRepository
from aiops_incidents.rca.traces import usual_self_times
from aiops_incidents.repository import GraphRepository, IncidentRepository
from aiops_incidents.schemas import (
    EventType,
    IncidentStatus,
    InstanceBreakdown,
    RootCauseCandidate,
    ServiceEdge,
    Severity,
)
from aiops_incidents.series.repository import SeriesRepository
from aiops_incidents.series.schemas import Acceptance, SeriesKind
from aiops_incidents.severity import assess, member_impact

log = logging.getLogger(__name__)

SEVERITY_ORDER = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
# Impact is measured over at most this much of an incident's recent past.
IMPACT_PERIOD = timedelta(minutes=5)
# A member series' error ratio and latency now are measured over this much of the recent past.
RECENT = timedelta(seconds=30)
# The first candidates are broken down by instance, and given their service's error logs, over at
# most this much of the trouble.
INSTANCE_CANDIDATES = 3
INSTANCE_PERIOD = timedelta(minutes=2)
INSTANCE_KINDS = frozenset({AnomalyKind.LATENCY, AnomalyKind.ERROR_RATIO})
KIND_WORDS = {
    AnomalyKind.ERROR_RATIO: "errors",
    AnomalyKind.LATENCY: "slow",
    AnomalyKind.TRAFFIC_DROP: "traffic dropped",
    AnomalyKind.TRAFFIC_SURGE: "traffic surged",
    AnomalyKind.MULTIVARIATE: "unusual behaviour",
    AnomalyKind.SATURATION: "running out",
    AnomalyKind.LOG_SURGE: "error logs surged",
    AnomalyKind.METRIC: "far from normal",
}


class AnomalyNotYetKnownError(Exception):
    """A `cleared` event overtook its `detected` event; it is retried after the other one."""


@dataclass(frozen=True)
class LifecycleConfig:
    resolve_cooldown: timedelta = timedelta(seconds=30)
    reopen_window: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class _Stores:
    """The repositories the domain changes incidents with, all on one transaction's connection."""

    incidents: IncidentRepository
    graph: GraphRepository
    traces: TraceRepository
    series: SeriesRepository
    changes: ChangeRepository

    @classmethod
    def on(cls, db: Database) -> _Stores:
        return cls(
            IncidentRepository(db),
            GraphRepository(db),
            TraceRepository(db),
            SeriesRepository(db),
            ChangeRepository(db),
        )


class IncidentService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        metrics: IncidentMetrics,
        live_stats: LiveStats,
        config: LifecycleConfig,
        clock: Clock = utc_now,
    ) -> None:
        self.pool = pool
        # For reads outside a change; every change goes through `_change`.
        self.incidents = IncidentRepository(pool)
        self.graph = GraphRepository(pool)
        self.series = SeriesRepository(pool)
        self.metrics = metrics
        self.live_stats = live_stats
        self.config = config
        self.clock = clock

    @asynccontextmanager
    async def _change(self, *, locked: bool = True) -> AsyncIterator[_Stores]:
        """One transaction of changes, holding the incidents lock unless `locked` is False (a
        change of one incident that locks its row instead)."""
        async with self.pool.acquire() as conn, conn.transaction():
            stores = _Stores.on(conn)
            if locked:
                await stores.incidents.lock()
            yield stores

    # --- anomaly events ----------------------------------------------------------------------

    async def on_detected(self, anomaly: Anomaly) -> UUID:
        """Put the anomaly into the incident it belongs to (opening or reopening one if none);
        a repeated event changes nothing. Returns the incident's id."""
        async with self._change() as tx:
            repo = tx.incidents
            now = self.clock()  # after the wait for the lock: the time the change is made
            known = await repo.incident_of_anomaly(anomaly.id)
            if known is not None:
                return known
            edges = await tx.graph.edges()
            graph = ServiceGraph(((e.source, e.target) for e in edges), peers=peer_kinds(edges))
            joined = incident_for(
                anomaly.service,
                anomaly.started_at,
                await repo.active(),
                graph,
                grace=self.config.resolve_cooldown,
            )
            opened = False
            if joined is not None:
                incident_id = joined.id
                await self._join(tx, incident_id, anomaly, now)
            else:
                candidates = await self._ranked(tx, [anomaly], anomaly.started_at, now, edges)
                cause = (
                    RootKey.of(candidates[0])
                    if candidates
                    else RootKey(anomaly.service, anomaly.operation, anomaly.kind.value)
                )
                existing = await repo.by_fingerprint(cause.fingerprint)
                if existing is not None and existing.status is not IncidentStatus.RESOLVED:
                    incident_id = existing.id
                    await self._join(tx, incident_id, anomaly, now)
                elif existing is not None and reopenable(
                    existing.resolved_at, now, self.config.reopen_window
                ):
                    incident_id = existing.id
                    await repo.reopen(incident_id, now)
                    await repo.add_event(
                        incident_id, EventType.REOPENED, SYSTEM, now, {"anomaly": _brief(anomaly)}
                    )
                    await self._join(tx, incident_id, anomaly, now, event=False)
                else:
                    incident_id = await repo.create(
                        fingerprint=cause.fingerprint,
                        title=_title(cause),
                        started_at=anomaly.started_at,
                        now=now,
                    )
                    await repo.add_member(incident_id, anomaly, now)
                    severity, root = await self._assess(tx, incident_id, now, quiet=True)
                    await repo.add_event(
                        incident_id,
                        EventType.OPENED,
                        SYSTEM,
                        now,
                        {"severity": severity.value, "root_cause": root, "anomaly": _brief(anomaly)},
                    )
                    opened = True
        self.metrics.anomalies_detected.labels(anomaly.kind.value).inc()
        if opened:
            self.metrics.detect_seconds.observe(max(0.0, (now - anomaly.started_at).total_seconds()))
        await self.live_stats.anomaly_detected(anomaly, incident_opened=opened)
        return incident_id

    async def on_cleared(self, anomaly: Anomaly) -> None:
        cleared_at = anomaly.cleared_at or self.clock()
        async with self._change() as tx:
            incident_id = await tx.incidents.clear_member(anomaly.id, cleared_at)
            if incident_id is None:
                if await tx.incidents.incident_of_anomaly(anomaly.id) is None:
                    raise AnomalyNotYetKnownError(f"anomaly {anomaly.id} cleared before it was recorded")
                return  # cleared already: a repeated event
            await tx.incidents.add_event(
                incident_id,
                EventType.ANOMALY_CLEARED,
                SYSTEM,
                self.clock(),
                {"anomaly": _brief(anomaly)},
            )

    # --- periodic work -----------------------------------------------------------------------

    async def rerank(self) -> int:
        """Rank the root cause of every unresolved incident again: more traces have been
        stored since, and callers' anomalies may have joined."""
        async with self._change() as tx:
            ids = await tx.incidents.unresolved()
            now = self.clock()
            for incident_id in ids:
                await self._assess(tx, incident_id, now)
        return len(ids)

    async def resolve_calm(self) -> list[UUID]:
        """Resolve the incidents whose every anomaly has stayed cleared for the cooldown."""
        resolved = []
        async with self._change() as tx:
            now = self.clock()
            for incident_id, cleared in (await tx.incidents.clearing()).items():
                if resolvable(cleared, now, self.config.resolve_cooldown):
                    await tx.incidents.set_status(incident_id, IncidentStatus.RESOLVED, SYSTEM, now)
                    seconds = round(self.config.resolve_cooldown.total_seconds())
                    await tx.incidents.add_event(
                        incident_id,
                        EventType.RESOLVED,
                        SYSTEM,
                        now,
                        {"reason": f"every anomaly cleared and stayed clear for {seconds} s"},
                    )
                    resolved.append(incident_id)
        for _ in resolved:
            await self.live_stats.incident_resolved()
        return resolved

    async def refresh_graph(self, window: timedelta) -> int:
        now = self.clock()
        return await self.graph.refresh(now - window, now, forget_before=now - timedelta(days=1))

    async def refresh_active_gauge(self) -> None:
        for severity, count in (await self.incidents.active_by_severity()).items():
            self.metrics.incidents_active.labels(severity.value).set(count)

    # --- what people do ----------------------------------------------------------------------

    async def change_status(
        self, incident_id: UUID, wanted: IncidentStatus, actor: str, comment: str | None
    ) -> None:
        async with self._change(locked=False) as tx:
            state = await tx.incidents.state(incident_id, for_update=True)
            if state is None:
                raise NotFoundError(f"no incident {incident_id}")
            now = self.clock()
            status = next_status(state.status, wanted)
            if status is not None:
                await tx.incidents.set_status(incident_id, status, actor, now)
                event = (
                    EventType.ACKNOWLEDGED if status is IncidentStatus.ACKNOWLEDGED else EventType.RESOLVED
                )
                await tx.incidents.add_event(incident_id, event, actor, now)
            if comment:
                await tx.incidents.add_event(incident_id, EventType.COMMENT, actor, now, {"text": comment})
        if status is IncidentStatus.RESOLVED:
            await self.live_stats.incident_resolved()

    async def comment(self, incident_id: UUID, actor: str, text: str) -> None:
        async with self._change(locked=False) as tx:
            if await tx.incidents.state(incident_id, for_update=True) is None:
                raise NotFoundError(f"no incident {incident_id}")
            await tx.incidents.add_event(incident_id, EventType.COMMENT, actor, self.clock(), {"text": text})

    async def accept_as_normal(
        self, service: str, operation: str, kind: SeriesKind, actor: str, comment: str | None
    ) -> Acceptance:
        """Record that a lasting change of a series is normal: its baseline of that kind learns
        from now on (the detector reads the acceptance), and every unresolved incident with an
        open anomaly of it says so on its timeline."""
        if not await self.series.series_known(service, operation):
            raise NotFoundError(f"the platform has no series {service!r} {operation!r}")
        now = self.clock()
        async with self._change(locked=False) as tx:
            await tx.series.accept(
                service=service, operation=operation, kind=kind, at=now, by=actor, comment=comment
            )
            incident_ids = await tx.incidents.unresolved_with_open(service, operation, kind)
            detail = {"service": service, "operation": operation, "kind": kind, "comment": comment}
            for incident_id in incident_ids:
                await tx.incidents.add_event(incident_id, EventType.ACCEPTED_AS_NORMAL, actor, now, detail)
        log.info("series accepted as normal", extra={"series": f"{service} {operation}", "kind": kind})
        return Acceptance(
            service=service,
            operation=operation,
            kind=kind,
            accepted_at=now,
            accepted_by=actor,
            comment=comment,
            incidents=incident_ids,
        )

    # --- internals ---------------------------------------------------------------------------

    async def _join(
        self,
        tx: _Stores,
        incident_id: UUID,
        anomaly: Anomaly,
        now: datetime,
        *,
        event: bool = True,
    ) -> None:
        await tx.incidents.add_member(incident_id, anomaly, now)
        if event:
            await tx.incidents.add_event(
                incident_id, EventType.ANOMALY_JOINED, SYSTEM, now, {"anomaly": _brief(anomaly)}
            )
        await self._assess(tx, incident_id, now)

    async def _assess(
        self, tx: _Stores, incident_id: UUID, now: datetime, *, quiet: bool = False
    ) -> tuple[Severity, dict[str, str] | None]:
        """Rank the root cause and measure the impact again, on the incident's current episode
        (since it last reopened); record what changed on the timeline (unless `quiet`, for a new
        incident whose opening says it all). Severity only rises while an incident is unresolved,
        so a fading fault does not page again on the way down."""
        repo = tx.incidents
        state = await repo.state(incident_id)
        assert state is not None
        everyone = await repo.members(incident_id)
        members = current_episode(everyone, self.config.resolve_cooldown)
        started_at = state.started_at if len(members) == len(everyone) else members[0].started_at
        candidates = await self._ranked(tx, members, started_at, now, await tx.graph.edges())
        until = _trouble_until(members, now)
        total, affected = await tx.traces.entry_impact(
            max(started_at, until - IMPACT_PERIOD), until, usual_before=started_at
        )
        series_now = await tx.traces.series_now(
            sorted({(a.service, a.operation) for a in members}), now - RECENT, now
        )
        impact = member_impact(members, series_now, total, affected, previous=state.impact)
        severity = (
            max(assess(impact), state.severity, key=SEVERITY_ORDER.index) if not quiet else assess(impact)
        )
        top = RootKey.of(candidates[0]) if candidates else None
        title = _title(top or _first_series(members))
        await repo.assess(
            incident_id, candidates=candidates, impact=impact, severity=severity, title=title, now=now
        )
        root = top.as_dict() if top else None
        if not quiet:
            if top is not None and state.root != top:
                await repo.add_event(
                    incident_id,
                    EventType.ROOT_CAUSE_CHANGED,
                    SYSTEM,
                    now,
                    {"from": state.root.as_dict() if state.root else None, "to": root},
                )
                await repo.set_fingerprint(incident_id, top.fingerprint)
            if severity is not state.severity:
                await repo.add_event(
                    incident_id,
                    EventType.SEVERITY_CHANGED,
                    SYSTEM,
                    now,
                    {"from": state.severity.value, "to": severity.value},
                )
        return severity, root

    async def _ranked(
        self,
        tx: _Stores,
        members: Sequence[Anomaly],
        started_at: datetime,
        now: datetime,
        edges: Sequence[ServiceEdge],
    ) -> list[RootCauseCandidate]:
        """The root-cause candidates, best first, each service among the first named at the
        instance that carries its trouble when one does (see `rca.instances`), with its error logs
        (see `rca.log_evidence`)."""
        peers = peer_kinds(edges)
        sample = await self._sample(tx, members, started_at, now, peers)
        changes = await tx.changes.between(started_at - CHANGE_WINDOW, now)
        candidates = rank(members, [(e.source, e.target) for e in edges], sample, peers, changes)
        ranked = []
        for index, candidate in enumerate(candidates):
            if index < INSTANCE_CANDIDATES:
                trouble = _trouble_of(candidate, members, started_at, now)
                candidate = await self._at_instance_grain(tx, candidate, trouble)
                candidate = await self._with_logs(tx, candidate, trouble)
            ranked.append(candidate)
        return ranked

    async def _with_logs(
        self, tx: _Stores, candidate: RootCauseCandidate, trouble: tuple[datetime, datetime]
    ) -> RootCauseCandidate:
        """The candidate with its service's error logs of the trouble in its evidence."""
        if candidate.node_kind is not NodeKind.SERVICE:
            return candidate
        records = await tx.traces.error_logs(candidate.service, *trouble)
        if not records:
            return candidate
        logs = group_logs(records, set(candidate.evidence.trace_ids))
        return candidate.model_copy(update={"evidence": candidate.evidence.model_copy(update={"logs": logs})})

    async def _at_instance_grain(
        self, tx: _Stores, candidate: RootCauseCandidate, trouble: tuple[datetime, datetime]
    ) -> RootCauseCandidate:
        if candidate.node_kind is not NodeKind.SERVICE or candidate.kind not in INSTANCE_KINDS:
            return candidate
        since, until = trouble
        stats = folded(await tx.traces.instances(candidate.service, candidate.operation, since, until))
        if len(stats) < 2:
            return candidate
        cause = instance_cause(stats, candidate.kind)
        breakdown = [
            InstanceBreakdown(
                instance=s.instance,
                requests=s.requests,
                errors=s.errors,
                error_ratio=round(s.error_ratio, 4),
                p95_ms=s.p95_ms,
                outlier=cause is not None and s.instance == cause.instance,
            )
            for s in stats
        ]
        evidence = candidate.evidence.model_copy(update={"instances": breakdown})
        if cause is None:
            return candidate.model_copy(update={"evidence": evidence})
        return candidate.model_copy(
            update={"instance": cause.instance, "reason": cause.sentence, "evidence": evidence}
        )

    async def _sample(
        self,
        tx: _Stores,
        members: Sequence[Anomaly],
        started_at: datetime,
        now: datetime,
        peers: Mapping[str, NodeKind],
    ) -> TraceSample:
        troubled: list[TroubledTrace] = []
        seen: set[str] = set()
        first_detected_at = min((a.detected_at for a in members), default=now)
        for anomaly in members:
            if anomaly.kind in TRAFFIC_KINDS:
                continue
            failed = anomaly.kind is not AnomalyKind.LATENCY
            since = anomaly.started_at - timedelta(seconds=5)
            until = anomaly.cleared_at or now
            ids = [
                trace_id
                for trace_id in await tx.traces.troubled(
                    anomaly.service, anomaly.operation, failed=failed, since=since, until=until
                )
                if trace_id not in seen
            ]
            seen.update(ids)
            trees = await tx.traces.trees(ids, since, until, peers)
            # Each anomaly's traces weigh as much in all, however many were found for it.
            weight = evidence_weight(anomaly, first_detected_at) / max(len(trees), 1)
            troubled += [TroubledTrace(tree, failed, weight) for tree in trees]
        if not troubled:
            return TraceSample()
        usual = await tx.traces.usual(sorted({a.service for a in members}), started_at, peers)
        return TraceSample(troubled=troubled, usual_self_ms=usual_self_times(usual))


def peer_kinds(edges: Sequence[ServiceEdge]) -> dict[str, NodeKind]:
    """The peers the service graph inferred (targets that send no spans), with their kinds."""
    return {e.target: e.target_kind for e in edges if e.target_kind is not NodeKind.SERVICE}


def _trouble_of(
    candidate: RootCauseCandidate, members: Sequence[Anomaly], started_at: datetime, now: datetime
) -> tuple[datetime, datetime]:
    """When the candidate's series was in trouble: its own anomaly's time if it has one, else the
    incident's; the last INSTANCE_PERIOD of it, so a long fault costs no more than a short one."""
    series = (candidate.service, candidate.operation, candidate.kind)
    own = [a for a in members if (a.service, a.operation, a.kind) == series]
    if own:
        latest = max(own, key=lambda a: a.started_at)
        started_at, until = latest.started_at, latest.cleared_at or now
    else:
        until = _trouble_until(members, now)
    return max(started_at - timedelta(seconds=5), until - INSTANCE_PERIOD), until


def _trouble_until(members: Sequence[Anomaly], now: datetime) -> datetime:
    return last_cleared([a.cleared_at for a in members]) or now


def _title(root: RootKey) -> str:
    title = f"{root.service} {root.operation}: {KIND_WORDS[AnomalyKind(root.kind)]}"
    return f"{title} on {root.instance}" if root.instance else title


def _first_series(members: Sequence[Anomaly]) -> RootKey:
    first = members[0]
    return RootKey(first.service, first.operation, first.kind.value)


def _brief(anomaly: Anomaly) -> dict[str, object]:
    return {
        "id": str(anomaly.id),
        "service": anomaly.service,
        "operation": anomaly.operation,
        "kind": anomaly.kind.value,
        "score": round(anomaly.score, 3),
    }
