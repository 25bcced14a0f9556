"""The log surge watch: every few seconds, each service's error logs of the last minute, stored by
the writer, judged against its usual minutes (`log_surge.py`) once it has logged for ten minutes:
the minutes before a service (or the platform) existed teach nothing. An anomaly of kind
`log_surge` (operation `error logs`) opens when a service surges and clears once it has not for
`clear_after`; through the `anomalies` table, as every detector's, so replicas may all run it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from aiops_core.healthy_time import Trouble, troubled
from aiops_core.models import Anomaly, AnomalyEvidence, AnomalyKind
from aiops_detector.detection.log_surge import MIN_ERRORS, LogSurge, judge
from aiops_detector.detection.repository import DetectionRepository, OpenAnomaly

OPERATION = "error logs"
WINDOW = timedelta(seconds=30)
HISTORY = timedelta(hours=1)
# A service that has logged for less than this has no usual yet: it is not judged.
MIN_HISTORY = timedelta(minutes=10)
MINUTE = timedelta(minutes=1)
_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


def usual_minutes(
    counts: dict[datetime, int], now: datetime, first_logged: datetime, troubles: list[Trouble]
) -> list[int]:
    """The counts of the minutes of the hour before the window since the service first logged
    anything (zero where it logged no error; not the minutes before it existed), but those of its
    earlier surges."""
    minutes = []
    minute = max(_minute_of(now - WINDOW - HISTORY), _minute_of(first_logged))
    while minute + MINUTE <= now - WINDOW:
        if not troubled(minute, minute + MINUTE, troubles):
            minutes.append(counts.get(minute, 0))
        minute += MINUTE
    return minutes


def _minute_of(moment: datetime) -> datetime:
    return moment - (moment - _ORIGIN) % MINUTE


class LogSurgeWatch:
    def __init__(self, repository: DetectionRepository, *, clear_after: timedelta) -> None:
        self._repository = repository
        self._clear_after = clear_after

    async def run_once(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        recent = await self._repository.error_logs_since(now - WINDOW)
        open_now = {
            o.anomaly.service: o for o in await self._repository.open_anomalies(AnomalyKind.LOG_SURGE)
        }
        candidates = {service: errors for service, errors in recent.items() if errors >= MIN_ERRORS}
        history = (
            await self._repository.error_log_minutes(
                list(candidates), _minute_of(now - WINDOW - HISTORY), now - WINDOW
            )
            if candidates
            else {}
        )
        for service, errors in candidates.items():
            surge = await self._judge(service, errors, history.get(service, {}), now)
            current = open_now.pop(service, None)
            if surge is not None and surge.surging:
                await self._opened(service, surge, current, now)
            elif current is not None:
                await self._repository.calm(current.anomaly.id, now, self._clear_after)
        for quiet in open_now.values():
            await self._repository.calm(quiet.anomaly.id, now, self._clear_after)

    async def _judge(
        self, service: str, errors: int, counts: dict[datetime, int], now: datetime
    ) -> LogSurge | None:
        """The service's errors of the window against its usual minutes; None while it has logged
        for too short a time to know what is usual."""
        since = now - WINDOW - HISTORY
        first_logged = await self._repository.first_logged(service, since)
        if first_logged is None or now - WINDOW - first_logged < MIN_HISTORY:
            return None
        troubles = [
            t
            for t in await self._repository.troubles(service, since, OPERATION)
            if t.kind is AnomalyKind.LOG_SURGE
        ]
        return judge(errors, WINDOW.total_seconds(), usual_minutes(counts, now, first_logged, troubles))

    async def _opened(
        self, service: str, surge: LogSurge, current: OpenAnomaly | None, now: datetime
    ) -> None:
        if current is not None:
            await self._repository.still_anomalous(current.anomaly.id, surge.score)
            return
        await self._repository.open(
            Anomaly(
                id=uuid.uuid4(),
                service=service,
                operation=OPERATION,
                kind=AnomalyKind.LOG_SURGE,
                score=surge.score,
                started_at=now - WINDOW,
                detected_at=now,
                window_s=int(WINDOW.total_seconds()),
                observed={"errors_per_min": round(surge.per_min, 2), "errors": float(surge.errors)},
                baseline={"usual_per_min": surge.usual_per_min},
                evidence=AnomalyEvidence(),
            )
        )
