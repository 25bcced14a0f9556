import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from aiops_core.store import Backend, current_backend, migrate
from aiops_core.store.migrations import MigrationError, load_migrations
from aiops_core.store.partitions import SPANS, ensure_partitions
from aiops_incidents.rca.repository import TraceRepository


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


async def test_the_upgrade_to_binary_ids_keeps_every_stored_span_and_its_ids(database_url: str) -> None:
    trace_id, root_id, child_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "a3ce929d0e0e4736"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await migrate(conn, up_to=7)  # the schema with ids as hex text
            await ensure_partitions(conn, SPANS, {start.date()})
            await conn.executemany(
                "INSERT INTO spans (start_time, trace_id, span_id, parent_span_id, service, operation, kind, "
                "duration_ms, is_error) VALUES ($1, $2, $3, $4, $5, 'GET /', 'server', 5, false)",
                [
                    (start, trace_id, root_id, None, "frontend"),
                    (start + timedelta(milliseconds=1), trace_id, child_id, root_id, "payment"),
                ],
            )
            assert await migrate(conn, up_to=8) == ["0008_binary_ids"]
            root = "SELECT length(trace_id) + length(span_id) FROM spans WHERE service = 'frontend'"
            assert await conn.fetchval(root) == 16 + 8

        spans = await TraceRepository(pool).trace(trace_id)
        assert [(s.span_id, s.parent_span_id, s.service) for s in spans] == [
            (root_id, None, "frontend"),
            (child_id, root_id, "payment"),
        ]
        assert {s.trace_id for s in spans} == {trace_id}
    finally:
        await pool.close()
