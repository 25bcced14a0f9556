"""The evaluation: every few seconds, each active series' recent window against its baseline
and its floors.

Replicas share the work: each service falls to one of the live replicas (`replicas.py`), which
evaluates its series once per tick (a claim in Redis makes sure no two replicas do, even while
they join or leave). A measure whose baseline has less healthy history than `min_history_s` is still
learning: only its floor judges it. An anomaly opens when a detector's score reaches
`ALARM_SCORE`, starting at its first second out of line (`onset.py`), stays open while its
surprise stays above `keep_open_surprise`, and clears once the series has looked normal for
`clear_after`, or at once when an operator accepts its series and kind as normal. Opening and
clearing only change the `anomalies` table; the events are published from that table afterwards
(an outbox), so a crash in between delays an event but never loses it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiops_core.bus import Bus
from aiops_core.bus.topology import (
    ANOMALIES_EXCHANGE,
    ANOMALY_CLEARED_ROUTING_KEY,
    ANOMALY_DETECTED_ROUTING_KEY,
)
from aiops_core.cache import Cache
from aiops_core.healthy_time import MEASURE_OF, Measure
from aiops_core.models import Anomaly, AnomalyEvent, AnomalyEvidence, AnomalyKind, ErrorMessageCount
from aiops_core.windows import Exemplar, Series
from aiops_detector.detection.baseline_cache import BaselineCache
from aiops_detector.detection.baselines import Baseline, RobustStat
from aiops_detector.detection.detectors import (
    ErrorRatioDetector,
    Finding,
    Floors,
    LatencyShiftDetector,
    LatencyUsual,
    TrafficDetector,
)
from aiops_detector.detection.floors import FloorTable
from aiops_detector.detection.metrics import DetectionMetrics
from aiops_detector.detection.multivariate import IsolationForestDetector, ServiceModels
from aiops_detector.detection.onset import onset
from aiops_detector.detection.replicas import ReplicaSet
from aiops_detector.detection.repository import DetectionRepository, OpenAnomaly
from aiops_detector.detection.robust import ALARM_SCORE
from aiops_detector.detection.window_store import (
    WindowRead,
    WindowSpans,
    WindowStore,
    merge_slots,
)

log = logging.getLogger(__name__)

EVIDENCE_TRACES = 5
# The most the traffic test waits for late spans: a series whose spans come later still is
# judged on an incomplete count (see AIOPS_SETTLE_S).
MAX_SETTLE_S = 30
EVIDENCE_MESSAGES = 5
# How far back the first second out of line is looked for (the windows keep two minutes).
ONSET_REACH_S = 60


@dataclass(frozen=True)
class DetectionConfig:
    window_s: int = 10
    traffic_window_s: int = 5
    # Spans reach the detector a little after they start; the traffic test leaves the newest
    # seconds out so that spans still on their way do not look like a drop: at least this many,
    # more when a series' spans have been arriving later (up to MAX_SETTLE_S).
    settle_s: int = 2
    clear_after: timedelta = timedelta(seconds=10)
    min_history_s: float = 90.0
    keep_open_surprise: float = 0.5
    active_within_s: int = 900
    floors: FloorTable = field(default_factory=FloorTable)
    # Seconds after the first evaluation before traffic is judged (see `evaluate`).
    traffic_warm_up_s: int = MAX_SETTLE_S


@dataclass(frozen=True)
class Detectors:
    error_ratio: ErrorRatioDetector = field(default_factory=ErrorRatioDetector)
    latency: LatencyShiftDetector = field(default_factory=LatencyShiftDetector)
    traffic: TrafficDetector = field(default_factory=TrafficDetector)
    multivariate: IsolationForestDetector = field(default_factory=IsolationForestDetector)


@dataclass(frozen=True)
class Standards:
    """What one series is judged against this tick: each measure's usual values once it has
    learned them (None while it is still learning), its floors, and its windows' settle time."""

    baseline: Baseline
    error_ratio: float | None
    latency: LatencyUsual | None
    rate: RobustStat | None
    floors: Floors
    settle_s: int

    @classmethod
    def of(cls, baseline: Baseline, floors: Floors, min_history_s: float, settle_s: int) -> Standards:
        def learned(measure: Measure) -> bool:
            return baseline.learned(measure, min_history_s)

        latency = None
        if learned(Measure.LATENCY) and baseline.p50_ms is not None and baseline.p95_ms is not None:
            latency = LatencyUsual(baseline.p50_ms, baseline.p95_ms)
        accepted = baseline.accepted
        return cls(
            baseline=baseline,
            error_ratio=baseline.error_ratio if learned(Measure.ERRORS) else None,
            latency=latency,
            rate=baseline.rate_per_s if learned(Measure.RATE) else None,
            floors=Floors(
                error_ratio=None if Measure.ERRORS in accepted else floors.error_ratio,
                latency_ms=None if Measure.LATENCY in accepted else floors.latency_ms,
                traffic_per_s=None if Measure.RATE in accepted else floors.traffic_per_s,
            ),
            settle_s=settle_s,
        )


class DetectionService:
    def __init__(
        self,
        *,
        redis: Cache,
        windows: WindowStore,
        baselines: BaselineCache,
        repository: DetectionRepository,
        bus: Bus,
        metrics: DetectionMetrics,
        config: DetectionConfig,
        detectors: Detectors | None = None,
        models: ServiceModels | None = None,
    ) -> None:
        self._windows = windows
        self._baselines = baselines
        self._repository = repository
        self._bus = bus
        self._metrics = metrics
        self._config = config
        self._detectors = detectors or Detectors()
        # The per-service IsolationForest, when enabled.
        self._models = models
        self.replicas = ReplicaSet(redis, windows.keys.key("replicas"))
        self._judges_traffic_from: datetime | None = None
        # Each series' standards of the last tick: kept while its baseline and settle are the same.
        self._standards: dict[Series, Standards] = {}

    async def evaluate(self, now: datetime | None = None, *, tick_s: float = 1.0) -> None:
        """One evaluation of every active series this replica claims, then publish events."""
        now = now or datetime.now(UTC)
        config = self._config
        if self._judges_traffic_from is None:
            # Spans that queued while the detector was down are still being merged: until they
            # are, counts look low. Traffic is judged (opened or cleared) once they can be.
            self._judges_traffic_from = now + timedelta(seconds=config.traffic_warm_up_s)
        now_s = int(now.timestamp())
        by_service: dict[str, list[Series]] = {}
        for one in await self._windows.active_series(now_s - config.active_within_s):
            by_service.setdefault(one.service, []).append(one)
        self._metrics.series.set(sum(len(series) for series in by_service.values()))
        services = await self.claim(list(by_service), now, tick_s)
        claimed = [one for service in services for one in by_service[service]]
        spans = WindowSpans(config.window_s, config.traffic_window_s, config.settle_s, MAX_SETTLE_S)
        # Three reads at once: Redis sums the windows while the store and the cache answer.
        windows, open_anomalies, baselines = await asyncio.gather(
            self._windows.read_windows(claimed, now_s, spans),
            self._repository.open_anomalies(),
            self._baselines.get_many(claimed, now),
        )
        open_by_series: dict[Series, dict[AnomalyKind, OpenAnomaly]] = {}
        for o in open_anomalies:
            if o.anomaly.kind in _OF_REQUESTS:
                open_by_series.setdefault(Series(o.anomaly.service, o.anomaly.operation), {})[
                    o.anomaly.kind
                ] = o
        kinds = _PER_SERIES if now >= self._judges_traffic_from else _NOT_TRAFFIC
        last_standards, self._standards = self._standards, {}
        for one in claimed:
            window = windows[one]
            standards = last_standards.get(one)
            if (
                standards is None
                or standards.baseline is not baselines[one]
                or standards.settle_s != window.settle_s
            ):
                standards = Standards.of(
                    baselines[one], config.floors.of(one.service), config.min_history_s, window.settle_s
                )
            self._standards[one] = standards
            findings = self._findings(window, standards)
            open_now = open_by_series.get(one, {})
            for kind in kinds:
                finding, current = findings.get(kind), open_now.get(kind)
                # Most series, most ticks: nothing open and nothing to open.
                if current is not None or (finding is not None and finding.score >= ALARM_SCORE):
                    await self._apply(one, kind, finding, current, now, standards)
        if self._models is not None:
            await self._models.refit_due(now_s, {service: by_service[service] for service in services})
            for service in services:
                await self._evaluate_service(service, by_service[service], windows, now, open_by_series)
        for silent, open_kinds in open_by_series.items():
            if silent.service not in by_service:
                # Silent for longer than the windows are kept: nothing left to judge it by.
                for silent_kind, current in open_kinds.items():
                    await self._apply(silent, silent_kind, None, current, now)
        await self.publish_pending()

    async def _evaluate_service(
        self,
        service: str,
        series: list[Series],
        windows: dict[Series, WindowRead],
        now: datetime,
        open_by_series: dict[Series, dict[AnomalyKind, OpenAnomaly]],
    ) -> None:
        assert self._models is not None
        model = self._models.model(service)
        whole = Series(service, SERVICE_WIDE)
        kind = AnomalyKind.MULTIVARIATE
        finding = None
        if model is not None:
            window = merge_slots([windows[one].recent for one in series])
            finding = self._detectors.multivariate.evaluate(model, window, self._config.window_s)
        await self._apply(whole, kind, finding, open_by_series.get(whole, {}).get(kind), now)

    def _findings(self, window: WindowRead, standards: Standards) -> dict[AnomalyKind, Finding]:
        floors = standards.floors
        found = [
            self._detectors.error_ratio.evaluate(window.recent, standards.error_ratio, floors.error_ratio),
            self._detectors.latency.evaluate(window.recent, standards.latency, floors.latency_ms),
            self._detectors.traffic.evaluate(
                window.traffic_requests, self._config.traffic_window_s, standards.rate, floors.traffic_per_s
            ),
        ]
        return {finding.kind: finding for finding in found if finding is not None}

    async def _apply(
        self,
        series: Series,
        kind: AnomalyKind,
        finding: Finding | None,
        current: OpenAnomaly | None,
        now: datetime,
        standards: Standards | None = None,
    ) -> None:
        if current is None:
            if finding is not None and finding.score >= ALARM_SCORE:
                await self._open(series, finding, now, standards)
            return
        if current.accepted_at is not None:
            # An operator accepted the change as normal: the baseline learns afresh from now on.
            if await self._repository.clear(current.anomaly.id, now):
                await self._baselines.forget(series)
                self._cleared(series, kind, "accepted as normal")
        elif finding is not None and finding.surprise >= self._config.keep_open_surprise:
            await self._repository.still_anomalous(current.anomaly.id, finding.score)
        elif await self._repository.calm(current.anomaly.id, now, self._config.clear_after):
            self._cleared(series, kind, "looked normal")

    def _cleared(self, series: Series, kind: AnomalyKind, reason: str) -> None:
        self._metrics.anomalies.labels(kind.value, "cleared").inc()
        log.info("anomaly cleared", extra={"series": str(series), "kind": kind.value, "reason": reason})

    async def _open(
        self, series: Series, finding: Finding, now: datetime, standards: Standards | None
    ) -> None:
        window_s = self._config.traffic_window_s if finding.kind in _TRAFFIC else self._config.window_s
        baseline = dict(finding.baseline)
        if standards is not None and finding.kind in MEASURE_OF:
            baseline["history_s"] = round(standards.baseline.history_s.get(MEASURE_OF[finding.kind], 0.0), 1)
        started_at = now - timedelta(seconds=window_s)
        if standards is not None:
            started_at = await self._onset(series, finding.kind, standards, now) or started_at
        anomaly = Anomaly(
            id=uuid.uuid4(),
            service=series.service,
            operation=series.operation,
            kind=finding.kind,
            score=finding.score,
            started_at=started_at,
            detected_at=now,
            window_s=window_s,
            observed=_finite(finding.observed),
            baseline=_finite(baseline),
            evidence=await self._evidence(series, finding.kind, now),
        )
        if await self._repository.open(anomaly):
            self._metrics.anomalies.labels(finding.kind.value, "detected").inc()
            log.info(
                "anomaly detected",
                extra={"series": str(series), "kind": finding.kind.value, "score": round(finding.score, 3)},
            )

    async def _onset(
        self, series: Series, kind: AnomalyKind, standards: Standards, now: datetime
    ) -> datetime | None:
        """The first second of the recent past that was out of line, by the same standards."""
        now_s = int(now.timestamp())
        last_s = now_s - standards.settle_s if kind in _TRAFFIC else now_s
        slots = (await self._windows.read_slots([series], now_s - ONSET_REACH_S, last_s))[series]
        floors, detectors = standards.floors, self._detectors
        flags: list[tuple[int, bool | None]] = []
        for second, slot in sorted(slots.items()):
            if kind is AnomalyKind.ERROR_RATIO:
                out = detectors.error_ratio.out_of_line(slot, standards.error_ratio, floors.error_ratio)
            elif kind is AnomalyKind.LATENCY:
                out = detectors.latency.out_of_line(slot, standards.latency, floors.latency_ms)
            else:
                out = detectors.traffic.out_of_line(kind, slot, standards.rate, floors.traffic_per_s)
            flags.append((second, out))
        first = onset(flags, gap_s=max(1, round(self._config.clear_after.total_seconds())))
        return None if first is None else datetime.fromtimestamp(first, UTC)

    async def _evidence(self, series: Series, kind: AnomalyKind, now: datetime) -> AnomalyEvidence:
        since = now.timestamp() - self._config.window_s * 3
        exemplars = [e for e in await self._windows.exemplars(series) if e.start_s >= since]
        exemplars.sort(key=_exemplar_order(kind))
        minute = int(now.timestamp()) // 60 * 60
        messages = await self._windows.error_messages(series, [minute, minute - 60])
        return AnomalyEvidence(
            trace_ids=list(dict.fromkeys(e.trace_id for e in exemplars))[:EVIDENCE_TRACES],
            error_messages=[
                ErrorMessageCount(message=m, count=c) for m, c in messages.most_common(EVIDENCE_MESSAGES)
            ],
        )

    async def claim(self, services: list[str], now: datetime, tick_s: float) -> list[str]:
        """The services whose series this replica evaluates this tick: those that fall to it
        among the live replicas, each claimed for the tick so that no other replica judges it too
        (its series and its service-wide model are judged together). A replica whose runs drift
        into the same tick twice keeps what it claimed."""
        replicas = await self.replicas.live(now.timestamp(), stale_s=max(6.0, 3 * tick_s))
        services = self.replicas.owned(services, replicas)
        if not services:
            return []
        tick = int(now.timestamp() // tick_s)
        wholes = [Series(service, SERVICE_WIDE) for service in services]
        held = await self._windows.claim(
            wholes, tick, self.replicas.id, expiry_s=max(2, math.ceil(tick_s * 2))
        )
        return [whole.service for whole in held]

    async def publish_pending(self) -> int:
        """Publish the events of the `anomalies` table not yet published; how many were."""
        published = 0
        async with self._repository.unpublished_events() as pending:
            for event, anomaly in pending.events:
                key = ANOMALY_DETECTED_ROUTING_KEY if event == "detected" else ANOMALY_CLEARED_ROUTING_KEY
                body = AnomalyEvent(event=event, anomaly=anomaly).model_dump_json().encode()
                await self._bus.publish(ANOMALIES_EXCHANGE, key, body, message_id=f"{anomaly.id}:{event}")
                await pending.mark_published(event, anomaly.id, datetime.now(UTC))
                published += 1
        return published


_TRAFFIC = frozenset({AnomalyKind.TRAFFIC_DROP, AnomalyKind.TRAFFIC_SURGE})
_PER_SERIES = list(MEASURE_OF)
# The kinds judged here, on the series of requests (others, on metrics, are judged elsewhere).
_OF_REQUESTS = frozenset({*_PER_SERIES, AnomalyKind.MULTIVARIATE})
_NOT_TRAFFIC = [kind for kind in _PER_SERIES if kind not in _TRAFFIC]
# The operation of a service-wide anomaly (the multivariate model judges the whole service).
SERVICE_WIDE = "*"


def _exemplar_order(kind: AnomalyKind) -> Callable[[Exemplar], tuple[float, ...]]:
    if kind is AnomalyKind.ERROR_RATIO:
        return lambda e: (not e.is_error, -e.start_s)
    if kind is AnomalyKind.LATENCY:
        return lambda e: (-e.duration_ms,)
    return lambda e: (-e.start_s,)


def _finite(values: dict[str, float | None]) -> dict[str, float | None]:
    """JSON has no infinity: a value that is not finite is stored as null."""
    return {k: (v if v is None or math.isfinite(v) else None) for k, v in values.items()}
