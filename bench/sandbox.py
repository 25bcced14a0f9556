"""A database, a RabbitMQ vhost and a Redis key prefix of a benchmark's own, dropped afterwards."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from uuid import uuid4

import asyncpg

from tests.support.servers import rabbitmqctl, with_database

ADMIN_URL = os.environ.get("AIOPS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BROKER_HOST = os.environ.get("AIOPS_BENCH_BROKER", "guest:guest@127.0.0.1:5672")
REDIS_URL = os.environ.get("AIOPS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


@dataclass(frozen=True)
class BenchPlatform:
    database_url: str
    broker_url: str
    env: dict[str, str]


@asynccontextmanager
async def bench_platform(log_level: str = "WARNING") -> AsyncIterator[BenchPlatform]:
    suffix = uuid4().hex[:8]
    database, vhost = f"aiops_bench_{suffix}", f"aiops-bench-{suffix}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{database}"')
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    database_url = with_database(ADMIN_URL, database)
    broker_url = f"amqp://{BROKER_HOST}/{vhost}"
    env = {
        "AIOPS_DATABASE_URL": database_url,
        "AIOPS_BROKER_URL": broker_url,
        "AIOPS_REDIS_URL": REDIS_URL,
        "AIOPS_REDIS_KEY_PREFIX": f"aiops-bench-{suffix}:",
        "AIOPS_LOG_LEVEL": log_level,
    }
    try:
        yield BenchPlatform(database_url, broker_url, env)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
        rabbitmqctl("delete_vhost", vhost)
