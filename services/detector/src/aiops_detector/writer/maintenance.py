"""The job that keeps the telemetry tables (spans, metric points, log records) within their
retention ages.

On plain PostgreSQL it creates the coming days' partitions of each table ahead of time and drops
those wholly older than the table's retention age; on TimescaleDB it sets each hypertable's
retention and compression policies once at start-up instead. In both it forgets the metric series
not seen within the metrics' retention, and batch ids as old as the longest retention (the rows
they guarded are gone). Every replica may run it: each step is idempotent and serialised in the
database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from aiops_core.store import Backend
from aiops_core.store.partitions import METRIC_POINTS, apply_timescale_policies, drop_partitions_before
from aiops_detector.writer.repository import TelemetryRepository, forget_batches_before

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    # How long each table's rows are kept.
    retention: Mapping[str, timedelta]
    partitions_ahead_days: int
    compress_after: timedelta


class TelemetryMaintenanceJob:
    def __init__(
        self,
        pool: asyncpg.Pool,
        repositories: list[TelemetryRepository],
        backend: Backend,
        policy: RetentionPolicy,
        *,
        interval_s: float,
    ) -> None:
        self._pool = pool
        self._repositories = repositories
        self._backend = backend
        self._policy = policy
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def run_once(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        if self._backend is Backend.POSTGRES:
            days = {now.date() + timedelta(days=n) for n in range(-1, self._policy.partitions_ahead_days + 1)}
            for repository in self._repositories:
                await repository.ensure_partitions(days)
                cutoff = now - self._policy.retention[repository.table]
                async with self._pool.acquire() as conn:
                    dropped = await drop_partitions_before(conn, repository.table, cutoff.date())
                if dropped:
                    repository.forget_partitions()
                    log.info(
                        "dropped expired partitions",
                        extra={"table": repository.table, "days": [d.isoformat() for d in dropped]},
                    )
        forgotten = await self._pool.execute(
            "DELETE FROM metric_series WHERE last_seen < $1", now - self._policy.retention[METRIC_POINTS]
        )
        if forgotten != "DELETE 0":
            log.info("forgot metric series no longer seen", extra={"count": int(forgotten.split()[-1])})
        batches = await forget_batches_before(self._pool, now - max(self._policy.retention.values()))
        if batches:
            log.info("forgot expired batch ids", extra={"count": batches})

    async def start(self) -> None:
        # Not a `PeriodicJob`, whose first run happens in the background: this one is awaited, so
        # that the service does not start writing before the policies and partitions are in place
        # (and a database that refuses them fails the start-up); the loop then waits a full
        # interval before the next run.
        if self._backend is Backend.TIMESCALEDB:
            async with self._pool.acquire() as conn:
                for repository in self._repositories:
                    await apply_timescale_policies(
                        conn,
                        repository.table,
                        retention=self._policy.retention[repository.table],
                        compress_after=self._policy.compress_after,
                    )
        await self.run_once()
        self._task = asyncio.create_task(self._loop(), name="telemetry-maintenance")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.run_once()
            except Exception:
                log.exception("telemetry maintenance failed; will try again")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
