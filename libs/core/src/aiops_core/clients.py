"""Clients built from settings, inside a service's lifespan."""

from __future__ import annotations

import asyncpg

from aiops_core.bus import RabbitBus
from aiops_core.settings import CoreSettings
from aiops_core.store import create_pool, migrate


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
            await pool.close()
            raise
    return pool
