"""The rollup job: per-minute, per-series request counts, errors and latency percentiles, from
the spans in the store into `series_rollups`, for the baselines to learn from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiops_detector.detection.repository import DetectionRepository

# Spans still arriving for the last seconds are left to the next run.
GRACE = timedelta(seconds=5)


class RollupJob:
    def __init__(
        self, repository: DetectionRepository, *, first_run_history: timedelta, retention: timedelta
    ) -> None:
        self._repository = repository
        self._first_run_history = first_run_history
        self._retention = retention

    async def run_once(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        if await self._repository.roll_up(now - GRACE, first_run_from=now - self._first_run_history):
            await self._repository.forget_rollups_before(now - self._retention)
