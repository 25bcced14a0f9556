"""The asyncpg pool, created in a service's lifespan and handed down."""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from aiops_core.errors import DependencyUnavailableError
from aiops_core.urls import redact

log = logging.getLogger(__name__)

# A connection of its own or one borrowed from a pool: both run the same queries.
Connection = asyncpg.Connection | PoolConnectionProxy

# What a database that is still starting, restarting or unreachable looks like.
TRANSIENT_DB_ERRORS = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
)


async def create_pool(
    url: str, *, max_size: int, application_name: str, startup_timeout_s: float
) -> asyncpg.Pool:
    """Connect, retrying while the database is not reachable, for at most `startup_timeout_s`."""
    deadline = time.monotonic() + startup_timeout_s
    delay_s = 0.5
    while True:
        try:
            return await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=max_size,
                timeout=10,
                command_timeout=60,
                server_settings={"application_name": application_name},
            )
        except asyncpg.InvalidCatalogNameError as exc:
            raise DependencyUnavailableError("store", f"{exc}; create it first") from exc
        except TRANSIENT_DB_ERRORS as exc:
            if time.monotonic() + delay_s > deadline:
                raise DependencyUnavailableError("store", f"{type(exc).__name__}: {exc}") from exc
            log.warning(
                "database not reachable, retrying",
                extra={"url": redact(url), "error": str(exc), "retry_in_s": delay_s},
            )
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 5.0)


async def ping(pool: asyncpg.Pool) -> None:
    await pool.fetchval("SELECT 1", timeout=2)


async def close_pool(pool: asyncpg.Pool, timeout_s: float = 10.0) -> None:
    """Close gracefully, waiting at most `timeout_s` for borrowed connections to come back; after
    that the pool is terminated (asyncpg does so when its close is cancelled), so that work stuck
    on a query cannot hold the process open."""
    try:
        await asyncio.wait_for(pool.close(), timeout_s)
    except TimeoutError:
        log.warning("connections still borrowed at shutdown; closed them", extra={"timeout_s": timeout_s})
