import asyncio

import asyncpg
import pytest

from aiops_core.store import Backend, current_backend, migrate
from aiops_core.store.migrations import MigrationError, load_migrations


async def test_fresh_database_gets_every_migration_once(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        applied = await migrate(conn)
        assert applied == [f"{m.version:04d}_{m.name}" for m in load_migrations()]
        assert await migrate(conn) == []
        assert await current_backend(conn) is Backend.POSTGRES
        # spans is range-partitioned by time on plain PostgreSQL
        strategy = await conn.fetchval(
            "SELECT partstrat::text FROM pg_partitioned_table WHERE partrelid = 'spans'::regclass"
        )
        assert strategy == "r"
        assert await conn.fetchval("SELECT count(*) FROM ingested_batches") == 0
    finally:
        await conn.close()


async def test_replicas_migrating_at_once_apply_each_migration_once(database_url: str) -> None:
    connections = [await asyncpg.connect(database_url) for _ in range(5)]
    try:
        results = await asyncio.gather(*(migrate(conn) for conn in connections))
        applied = [name for result in results for name in result]
        assert sorted(applied) == sorted(f"{m.version:04d}_{m.name}" for m in load_migrations())
        rows = await connections[0].fetch("SELECT version FROM schema_migrations")
        assert len(rows) == len(load_migrations())
    finally:
        for conn in connections:
            await conn.close()


async def test_a_migration_edited_after_it_ran_is_refused(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
        with pytest.raises(MigrationError, match="was changed after it was applied"):
            await migrate(conn)
        # and the lock was released on the way out
        assert await conn.fetchval("SELECT pg_try_advisory_lock(7420001)")
    finally:
        await conn.close()


async def test_an_unmigrated_database_says_so(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version int primary key, name text, backend text, "
            "checksum text, applied_at timestamptz)"
        )
        with pytest.raises(MigrationError, match="aiops migrate"):
            await current_backend(conn)
    finally:
        await conn.close()
