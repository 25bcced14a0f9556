"""The one shape of a repository: a class over a pool or a connection, holding all the SQL of
one aggregate.

Given the pool, each query runs on a connection of its own; given a connection, every query runs
on it, inside whatever transaction its caller holds. A domain service that needs several
repositories in one transaction opens it and builds them on its connection:

    async with pool.acquire() as conn, conn.transaction():
        incidents = IncidentRepository(conn)
        await incidents.lock()
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from aiops_core.store.pool import Connection

# Both run the same queries (fetch, fetchrow, fetchval, execute, executemany).
Database = asyncpg.Pool | Connection


class Repository:
    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """Statements that must commit together: inside the caller's transaction (as a savepoint)
        on a connection, in a transaction of their own on a pooled connection otherwise."""
        if isinstance(self.db, asyncpg.Pool):
            async with self.db.acquire() as conn, conn.transaction():
                yield conn
        else:
            async with self.db.transaction():
                yield self.db
