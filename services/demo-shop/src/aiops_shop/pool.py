"""A bounded pool of database connections, as a database client keeps one, and the metrics
OpenTelemetry's database conventions give a pool (`db.client.connection.*`), so that a pool that
runs out of connections shows, beside its limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from opentelemetry.metrics import CallbackOptions, Meter, Observation

POOL_NAME = "db.client.connection.pool.name"
STATE = "db.client.connection.state"


class PoolExhaustedError(Exception):
    """No connection came free within the pool's timeout."""


class ConnectionPool:
    """`size` connections, all kept open: a query holds one and, when every one is in use, waits
    for one to be released, as behind asyncpg's pool, and gives up after `timeout_s`.

    It can be made to leak (`leak`): a connection taken now and then and never given back, as
    by a code path that forgets to release it, until the pool runs dry and every query times
    out; `mend` stops the leak and gives the leaked connections back."""

    def __init__(self, name: str, size: int, *, timeout_s: float = 2.0) -> None:
        self.name = name
        self.size = size
        self.timeout_s = timeout_s
        self.used = 0
        self.waiting = 0
        self.leaked = 0
        self.leak_per_minute = 0.0
        # When a query first found no connection since the leak began: the first failure it caused.
        self.first_exhausted_at: datetime | None = None
        self._free = asyncio.Semaphore(size)
        self._leaking: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[None]:
        self.waiting += 1
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._free.acquire()
        except TimeoutError:
            if self.first_exhausted_at is None and self.leak_per_minute:
                self.first_exhausted_at = datetime.now(UTC)
            raise PoolExhaustedError(
                f"{self.name}: no connection free in {self.timeout_s:g} s (all {self.size} in use)"
            ) from None
        finally:
            self.waiting -= 1
        self.used += 1
        try:
            yield
        finally:
            self.used -= 1
            self._free.release()

    def leak(self, per_minute: float) -> None:
        """Take a connection and keep it, `per_minute` times a minute, from now on (0: stop)."""
        self.mend()
        if per_minute > 0:
            self.leak_per_minute = per_minute
            self._leaking = asyncio.get_running_loop().create_task(self._leak(60 / per_minute))

    async def _leak(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            await self._free.acquire()
            self.used += 1
            self.leaked += 1

    def mend(self) -> None:
        """Stop leaking, and give back what leaked."""
        if self._leaking is not None:
            self._leaking.cancel()
            self._leaking = None
        for _ in range(self.leaked):
            self._free.release()
        self.used -= self.leaked
        self.leaked = 0
        self.leak_per_minute = 0.0
        self.first_exhausted_at = None


def observe_pool(meter: Meter, pool: ConnectionPool) -> None:
    """Report `pool` on `meter`: its connections by state, its limit and the requests waiting."""
    named = {POOL_NAME: pool.name}

    def connections(_: CallbackOptions) -> Iterable[Observation]:
        used = pool.used
        return [
            Observation(used, {**named, STATE: "used"}),
            Observation(pool.size - used, {**named, STATE: "idle"}),
        ]

    def limit(_: CallbackOptions) -> Iterable[Observation]:
        return [Observation(pool.size, named)]

    def waiting(_: CallbackOptions) -> Iterable[Observation]:
        return [Observation(pool.waiting, named)]

    meter.create_observable_up_down_counter(
        "db.client.connection.count",
        [connections],
        unit="{connection}",
        description="Connections in the pool, by state (used or idle).",
    )
    meter.create_observable_up_down_counter(
        "db.client.connection.max",
        [limit],
        unit="{connection}",
        description="The most connections the pool holds open.",
    )
    meter.create_observable_up_down_counter(
        "db.client.connection.pending_requests",
        [waiting],
        unit="{request}",
        description="Queries waiting for a connection.",
    )
