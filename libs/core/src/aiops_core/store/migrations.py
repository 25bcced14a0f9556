"""Versioned SQL migrations, applied at start-up and by `aiops migrate`.

Files are `migrations/NNNN_name.sql`, or `NNNN_name.postgres.sql` and
`NNNN_name.timescaledb.sql` where the two backends need different SQL. Each pending migration
runs in its own transaction and is recorded in `schema_migrations` with a checksum. The whole
run holds a session advisory lock, so replicas starting together apply each migration once
and the later ones simply find the work done.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources

import asyncpg

from aiops_core.store.pool import Connection

log = logging.getLogger(__name__)

# Arbitrary, fixed: every process that migrates this database agrees on it.
MIGRATION_LOCK_KEY = 7_420_001

_FILE_NAME = re.compile(
    r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?:\.(?P<variant>postgres|timescaledb))?\.sql$"
)


class Backend(StrEnum):
    POSTGRES = "postgres"
    TIMESCALEDB = "timescaledb"


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql_by_backend: dict[Backend | None, str]

    def sql_for(self, backend: Backend) -> str:
        sql = self.sql_by_backend.get(backend) or self.sql_by_backend.get(None)
        if sql is None:
            raise MigrationError(f"migration {self.version:04d} has no SQL for {backend}")
        return sql

    def checksum_for(self, backend: Backend) -> str:
        return hashlib.sha256(self.sql_for(backend).encode()).hexdigest()


def load_migrations() -> list[Migration]:
    found: dict[int, Migration] = {}
    for entry in resources.files("aiops_core.store").joinpath("migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        version = int(match["version"])
        variant = Backend(match["variant"]) if match["variant"] else None
        migration = found.setdefault(version, Migration(version, match["name"], {}))
        if migration.name != match["name"]:
            raise MigrationError(f"two migrations numbered {version:04d}")
        migration.sql_by_backend[variant] = entry.read_text()
    return [found[v] for v in sorted(found)]


async def detect_backend(conn: Connection) -> Backend:
    """TimescaleDB when the extension is installed in this database or can be."""
    if await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"):
        return Backend.TIMESCALEDB
    if await conn.fetchval("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"):
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            return Backend.TIMESCALEDB
        except asyncpg.PostgresError as exc:
            # Typically: the library is not in shared_preload_libraries.
            log.warning("timescaledb is available but cannot be enabled", extra={"error": str(exc)})
    return Backend.POSTGRES


async def migrate(conn: Connection, *, up_to: int | None = None) -> list[str]:
    """Apply every pending migration (or those numbered up to `up_to`: a schema as an older
    release left it, to test an upgrade from); return the names of those applied now."""
    migrations = [m for m in load_migrations() if up_to is None or m.version <= up_to]
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer     PRIMARY KEY,
                name        text        NOT NULL,
                backend     text        NOT NULL,
                checksum    text        NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        applied = {
            row["version"]: row
            for row in await conn.fetch("SELECT version, name, backend, checksum FROM schema_migrations")
        }
        # The backend chosen by the first migration stays, whatever is installed later.
        backend = Backend(applied[min(applied)]["backend"]) if applied else await detect_backend(conn)
        done: list[str] = []
        for migration in migrations:
            row = applied.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum_for(backend):
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} was changed after "
                        "it was applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql_for(backend))
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, backend, checksum) "
                    "VALUES ($1, $2, $3, $4)",
                    migration.version,
                    migration.name,
                    backend.value,
                    migration.checksum_for(backend),
                )
            done.append(f"{migration.version:04d}_{migration.name}")
            log.info("applied migration", extra={"migration": done[-1], "backend": backend.value})
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)


async def current_backend(conn: Connection | asyncpg.Pool) -> Backend:
    value = await conn.fetchval("SELECT backend FROM schema_migrations ORDER BY version LIMIT 1")
    if value is None:
        raise MigrationError("the database has not been migrated; run `aiops migrate`")
    return Backend(value)
