"""Clients built from settings, inside a service's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from aiops_core.bus import Bus, RabbitBus
from aiops_core.cache import Cache, create_redis
from aiops_core.cache import ping as ping_redis
from aiops_core.observability.health import HealthChecks
from aiops_core.settings import CoreSettings
from aiops_core.store import close_pool, create_pool, migrate, ping


def create_bus(settings: CoreSettings, *, connection_name: str) -> RabbitBus:
    return RabbitBus(
        settings.broker_url,
        queue_type=settings.queue_type,
        delivery_limit=settings.delivery_limit,
        publish_timeout_s=settings.publish_timeout_s,
        connection_name=connection_name,
    )


async def create_store(settings: CoreSettings, *, application_name: str) -> asyncpg.Pool:
    """The pool, with the schema migrated first when `migrate_on_start` is set."""
    pool = await create_pool(
        settings.database_url,
        max_size=settings.db_pool_max_size,
        application_name=application_name,
        startup_timeout_s=settings.startup_timeout_s,
    )
    if settings.migrate_on_start:
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
        except BaseException:
            await close_pool(pool)
            raise
    return pool


@dataclass(frozen=True)
class Clients:
    pool: asyncpg.Pool
    bus: Bus
    redis: Cache

    def add_health_checks(self, health: HealthChecks) -> None:
        health.add("broker", self.bus.ping)
        health.add("store", lambda: ping(self.pool))
        health.add("cache", lambda: ping_redis(self.redis))


@asynccontextmanager
async def store_bus_and_cache(
    settings: CoreSettings, *, name: str, bus: Bus | None = None, redis: Cache | None = None
) -> AsyncIterator[Clients]:
    """The pool (migrated), the bus (started) and Redis of a service, closed on the way out.
    A bus or Redis given (the all-in-one mode shares them) is used and left open."""
    pool = await create_store(settings, application_name=name)
    active_bus = bus or create_bus(settings, connection_name=name)
    cache = redis or create_redis(settings.redis_url, cluster=settings.redis_cluster)
    try:
        if bus is None:
            await active_bus.start()
        yield Clients(pool, active_bus, cache)
    finally:
        if bus is None:
            await active_bus.close()
        if redis is None:
            await cache.aclose()
        await close_pool(pool)
