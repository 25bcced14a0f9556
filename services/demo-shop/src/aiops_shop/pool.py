"""A bounded pool of database connections, as a database client keeps one, and the metrics
OpenTelemetry's database conventions give a pool (`db.client.connection.*`), so that a pool that
runs out of connections shows, beside its limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from opentelemetry.metrics import CallbackOptions, Meter, Observation

POOL_NAME = "db.client.connection.pool.name"
STATE = "db.client.connection.state"


class ConnectionPool:
    """`size` connections, all kept open: a query holds one and, when every one is in use, waits
    for one to be released, as behind asyncpg's pool."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        self.used = 0
        self.waiting = 0
        self._free = asyncio.Semaphore(size)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[None]:
        self.waiting += 1
        try:
            await self._free.acquire()
        finally:
            self.waiting -= 1
        self.used += 1
        try:
            yield
        finally:
            self.used -= 1
            self._free.release()


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
