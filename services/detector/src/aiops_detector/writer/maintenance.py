"""The job that keeps span storage within its retention age.

On plain PostgreSQL it creates the coming days' partitions ahead of time and drops those wholly
older than the retention age; on TimescaleDB it sets the hypertable's retention and compression
policies once at start-up instead. In both it forgets batch ids as old as the spans they
guarded. Every replica may run it: each step is idempotent and serialised in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from aiops_core.store import Backend
from aiops_core.store.partitions import apply_timescale_policies, drop_partitions_before
from aiops_detector.writer.repository import SpanRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    retention: timedelta
    partitions_ahead_days: int
    compress_after: timedelta


class SpanMaintenanceJob:
    def __init__(
        self,
        pool: asyncpg.Pool,
        repository: SpanRepository,
        backend: Backend,
        policy: RetentionPolicy,
        *,
        interval_s: float,
    ) -> None:
        self._pool = pool
        self._repository = repository
        self._backend = backend
        self._policy = policy
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def run_once(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        cutoff = now - self._policy.retention
        if self._backend is Backend.POSTGRES:
            today = now.date()
            days = {today + timedelta(days=n) for n in range(-1, self._policy.partitions_ahead_days + 1)}
            await self._repository.ensure_partitions(days)
            async with self._pool.acquire() as conn:
                dropped = await drop_partitions_before(conn, cutoff.date())
            if dropped:
                self._repository.forget_partitions()
                log.info("dropped expired span partitions", extra={"days": [d.isoformat() for d in dropped]})
        forgotten = await self._repository.forget_batches_before(cutoff)
        if forgotten:
            log.info("forgot expired batch ids", extra={"count": forgotten})

    async def start(self) -> None:
        # Not a `PeriodicJob`, whose first run happens in the background: this one is awaited, so
        # that the service does not start writing before the policies and partitions are in place
        # (and a database that refuses them fails the start-up); the loop then waits a full
        # interval before the next run.
        if self._backend is Backend.TIMESCALEDB:
            async with self._pool.acquire() as conn:
                await apply_timescale_policies(
                    conn, retention=self._policy.retention, compress_after=self._policy.compress_after
                )
        await self.run_once()
        self._task = asyncio.create_task(self._loop(), name="span-maintenance")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.run_once()
            except Exception:
                log.exception("span maintenance failed; will try again")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
