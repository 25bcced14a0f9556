"""The saturation watch: every few seconds, each gauge with a known limit (`limited_gauges.py`)
forecast against it (`saturation.py`) from its recent points in the store. An anomaly of kind
`saturation` opens when the limit will be reached within the horizon (or is reached), with the
forecast as what was observed, so that a leak opens an incident before the first request fails;
it clears once the forecast has said otherwise for `clear_after`. Opening and clearing go through
the `anomalies` table as every detector's do (its outbox publishes them); replicas may all run it,
since an open anomaly is unique per series and kind.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiops_core.models import Anomaly, AnomalyEvidence, AnomalyKind
from aiops_detector.detection.limited_gauges import LimitedGauge, limited_gauges
from aiops_detector.detection.repository import DetectionRepository, OpenAnomaly
from aiops_detector.detection.robust import ALARM_SCORE
from aiops_detector.detection.saturation import Forecast, most_urgent

log = logging.getLogger(__name__)

# A series whose last-seen time is older than this sends no more (that time lags by up to an hour).
_SEEN_WITHIN = timedelta(hours=2)


@dataclass(frozen=True)
class SaturationConfig:
    horizon: timedelta = timedelta(minutes=15)
    window: timedelta = timedelta(minutes=10)
    clear_after: timedelta = timedelta(seconds=10)


def score_of(found: Forecast, horizon_s: float) -> float:
    """From the alarm level, for a limit just within the horizon, to 1, for one reached now."""
    due = min(1.0, max(0.0, (found.exhausted_in_s or 0.0) / horizon_s))
    return round(ALARM_SCORE + (1 - ALARM_SCORE) * (1 - due), 4)


class SaturationWatch:
    def __init__(self, repository: DetectionRepository, config: SaturationConfig) -> None:
        self._repository = repository
        self._config = config

    async def run_once(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        gauges = limited_gauges(await self._repository.gauge_series(now - _SEEN_WITHIN))
        ids = {one.series_id for gauge in gauges for one in (gauge.usage, gauge.limit)}
        points = await self._repository.gauge_points(sorted(ids), now - self._config.window) if ids else {}
        open_now = {
            (o.anomaly.service, o.anomaly.operation): o
            for o in await self._repository.open_anomalies(AnomalyKind.SATURATION)
        }
        horizon_s = self._config.horizon.total_seconds()
        for gauge in gauges:
            usage, limit = points.get(gauge.usage.series_id), points.get(gauge.limit.series_id)
            found = most_urgent(usage, limit[-1][1]) if usage and limit else None
            current = open_now.pop((gauge.usage.service, gauge.operation), None)
            if found is not None and found.exhausts_within(horizon_s):
                await self._opened(gauge, found, current, now)
            elif current is not None:
                await self._repository.calm(current.anomaly.id, now, self._config.clear_after)
        # Gauges no longer sent, or no longer paired: nothing says they are still running out.
        for gone in open_now.values():
            await self._repository.calm(gone.anomaly.id, now, self._config.clear_after)

    async def _opened(
        self, gauge: LimitedGauge, found: Forecast, current: OpenAnomaly | None, now: datetime
    ) -> None:
        horizon_s = self._config.horizon.total_seconds()
        score = score_of(found, horizon_s)
        if current is not None:
            await self._repository.still_anomalous(current.anomaly.id, score)
            return
        anomaly = Anomaly(
            id=uuid.uuid4(),
            service=gauge.usage.service,
            operation=gauge.operation,
            kind=AnomalyKind.SATURATION,
            score=score,
            started_at=min(now, datetime.fromtimestamp(found.climb_started_s, UTC)),
            detected_at=now,
            window_s=max(1, int(self._config.window.total_seconds())),
            observed={
                "value": round(found.value, 4),
                "limit": found.limit,
                "utilisation": round(found.value / found.limit, 4),
                "slope_per_min": round(found.slope_per_s * 60, 4),
                "exhausted_in_s": round(found.exhausted_in_s or 0.0, 1),
            },
            baseline={"horizon_s": horizon_s},
            evidence=AnomalyEvidence(),
        )
        if await self._repository.open(anomaly):
            log.info(
                "saturation forecast",
                extra={"service": anomaly.service, "series": anomaly.operation, "observed": anomaly.observed},
            )
