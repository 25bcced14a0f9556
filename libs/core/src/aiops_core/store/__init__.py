"""The store: an asyncpg pool on PostgreSQL or TimescaleDB, migrations and span partitions."""

from aiops_core.store.migrations import Backend, current_backend, migrate
from aiops_core.store.pool import TRANSIENT_DB_ERRORS, close_pool, create_pool, ping

__all__ = [
    "TRANSIENT_DB_ERRORS",
    "Backend",
    "close_pool",
    "create_pool",
    "current_backend",
    "migrate",
    "ping",
]
