"""The metric watch: every metric series, one value per step (`metric_steps.py`), judged live by
the streaming scorer of `aiops detect-csv` (`streaming.py`). An anomaly of kind `metric` opens
when `sustain_steps` steps in a row are anomalous and at least `min_relative_change` away from the
series' median, with the value and that median in its evidence; it clears once the series has
looked normal for `clear_after`.

What a fault looks like never teaches the scorer: a step is learned only while the series has no
anomaly open or building up. A scorer lives in this process; on its first sight of a series
(after a start or a restart) it learns the stored recent past, leaving out the time of the
series' anomalies, so that a restart mid-fault neither forgets normal nor learns the fault.

Series that describe requests (`http.*`, `rpc.*`) are left to the request detectors, which judge
the same requests from their spans. Replicas may all run the watch: an open anomaly is unique per
series and kind.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiops_core.healthy_time import troubled
from aiops_core.models import Anomaly, AnomalyEvidence, AnomalyKind
from aiops_detector.detection.metric_steps import MetricSeries, StoredPoint, step_values
from aiops_detector.detection.repository import DetectionRepository, OpenAnomaly
from aiops_detector.detection.robust import ALARM_SCORE
from aiops_detector.detection.streaming import StreamingParameters, StreamingScorer

log = logging.getLogger(__name__)

# A series whose last-seen time is older than this sends no more (that time lags by up to an hour).
_SEEN_WITHIN = timedelta(hours=2)
_JUDGED_FROM_SPANS = ("http.", "rpc.")

# The scorer's parameters for steps of seconds rather than NAB's minutes: judged after 60 steps
# (10 minutes at 10 s), against the last 180 (half an hour) and a longer 720 (two hours); no
# daily season, which at this step would be longer than any history kept.
LIVE_PARAMETERS = StreamingParameters(
    warmup_points=60,
    history_points=180,
    calibration_points=180,
    short_points=3,
    season_days=(),
    season_sensitivities=(),
    long_history_points=720,
    long_calibration_points=360,
)


@dataclass(frozen=True)
class MetricWatchConfig:
    step: timedelta = timedelta(seconds=10)
    # A step is judged once this long has passed since its end: its points have been stored.
    settle: timedelta = timedelta(seconds=5)
    sustain_steps: int = 3
    min_relative_change: float = 0.25
    clear_after: timedelta = timedelta(seconds=10)
    # The most series judged (each costs its scorer's memory, about 50 kB); the rest are logged.
    max_series: int = 2000
    parameters: StreamingParameters = LIVE_PARAMETERS


@dataclass
class _Judged:
    """One series' scorer and where judging it has got to."""

    series: MetricSeries
    scorer: StreamingScorer
    judged_until: float
    # The first step of the anomalous steps in a row so far, and how many.
    run_started: float | None = None
    run_steps: int = 0
    run_peak: float = 0.0

    def end_run(self) -> None:
        self.run_started, self.run_steps, self.run_peak = None, 0, 0.0


class MetricWatch:
    def __init__(self, repository: DetectionRepository, config: MetricWatchConfig) -> None:
        self._repository = repository
        self._config = config
        self._judged: dict[int, _Judged] = {}
        self._over_limit_logged = False

    async def run_once(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        until = now.timestamp() - self._config.settle.total_seconds()
        listed = [
            one
            for one in await self._repository.metric_series(now - _SEEN_WITHIN)
            if not one.name.startswith(_JUDGED_FROM_SPANS)
        ]
        # Series no longer sent are forgotten, scorer and all.
        still = {one.series_id for one in listed}
        self._judged = {series_id: one for series_id, one in self._judged.items() if series_id in still}
        await self._meet_new_series([one for one in listed if one.series_id not in self._judged], now, until)
        open_now = {
            (o.anomaly.service, o.anomaly.operation): o
            for o in await self._repository.open_anomalies(AnomalyKind.METRIC)
        }
        if self._judged:
            since = min(one.judged_until for one in self._judged.values())
            points = await self._repository.metric_points(
                sorted(self._judged), datetime.fromtimestamp(since - self._config.step.total_seconds(), UTC)
            )
            for judged in self._judged.values():
                current = open_now.pop((judged.series.service, judged.series.operation), None)
                await self._judge(judged, points.get(judged.series.series_id, []), until, current, now)
        # Series no longer judged (no longer sent): nothing says they are still anomalous.
        for gone in open_now.values():
            await self._repository.calm(gone.anomaly.id, now, self._config.clear_after)

    async def _meet_new_series(self, seen: list[MetricSeries], now: datetime, until: float) -> None:
        """Give each series not judged before a scorer that has learned its stored recent past,
        anomalies' time left out."""
        room = self._config.max_series - len(self._judged)
        if len(seen) > room and not self._over_limit_logged:
            log.warning("metric series beyond the watch's limit are not judged", extra={"limit": room})
            self._over_limit_logged = True
        seen = seen[: max(room, 0)]
        if not seen:
            return
        step_s = self._config.step.total_seconds()
        learn_from = now - self._config.step * self._config.parameters.long_history_points
        points = await self._repository.metric_points([one.series_id for one in seen], learn_from)
        troubles = await self._repository.troubles_of_kind(AnomalyKind.METRIC, learn_from)
        end = until - until % step_s
        for one in seen:
            scorer = StreamingScorer(self._config.parameters)
            faults = troubles.get((one.service, one.operation), [])
            for start, value in step_values(
                one, points.get(one.series_id, []), step_s, after=learn_from.timestamp(), until=end
            ):
                at = datetime.fromtimestamp(start, UTC)
                if not troubled(at, at + self._config.step, faults):
                    scorer.learn(at, value)
            self._judged[one.series_id] = _Judged(one, scorer, judged_until=end)

    async def _judge(
        self,
        judged: _Judged,
        points: list[StoredPoint],
        until: float,
        current: OpenAnomaly | None,
        now: datetime,
    ) -> None:
        step_s = self._config.step.total_seconds()
        steps = list(step_values(judged.series, points, step_s, after=judged.judged_until, until=until))
        judged.judged_until = max(judged.judged_until, until - until % step_s)
        for start, value in steps:
            at = datetime.fromtimestamp(start, UTC)
            score = judged.scorer.judge(at, value)
            baseline = judged.scorer.baseline()
            if score >= ALARM_SCORE and baseline is not None and self._far_from(value, baseline[0]):
                judged.run_started = judged.run_started if judged.run_started is not None else start
                judged.run_steps += 1
                judged.run_peak = max(judged.run_peak, score)
                if current is not None:
                    await self._repository.still_anomalous(current.anomaly.id, score)
                elif judged.run_steps >= self._config.sustain_steps:
                    current = await self._open(judged, value, baseline, now)
                continue
            judged.end_run()
            if current is not None:
                if await self._repository.calm(current.anomaly.id, now, self._config.clear_after):
                    current = None
                continue
            judged.scorer.learn(at, value)

    def _far_from(self, value: float, median: float) -> bool:
        return abs(value - median) >= self._config.min_relative_change * abs(median) and value != median

    async def _open(
        self, judged: _Judged, value: float, baseline: tuple[float, float], now: datetime
    ) -> OpenAnomaly | None:
        """Open the series' anomaly; None when another replica has just opened it (the next
        round finds that one open)."""
        series, (median, mad) = judged.series, baseline
        observed: dict[str, float] = {series.measure: round(value, 6)}
        if median:
            observed["times_normal"] = round(value / median, 2)
        anomaly = Anomaly(
            id=uuid.uuid4(),
            service=series.service,
            operation=series.operation,
            kind=AnomalyKind.METRIC,
            score=round(judged.run_peak, 4),
            started_at=datetime.fromtimestamp(judged.run_started or now.timestamp(), UTC),
            detected_at=now,
            window_s=max(1, int(self._config.step.total_seconds() * judged.run_steps)),
            observed=observed,
            baseline={series.measure: round(median, 6), "mad": round(mad, 6)},
            evidence=AnomalyEvidence(),
        )
        if not await self._repository.open(anomaly):
            return None
        log.info(
            "metric anomaly",
            extra={"service": anomaly.service, "series": anomaly.operation, "observed": anomaly.observed},
        )
        return OpenAnomaly(anomaly, None, None)
