"""Fixtures on the real servers: a fresh PostgreSQL database per test, a RabbitMQ vhost per run
(queues emptied per test), a Redis database for tests.

The servers are found at the usual local addresses or where AIOPS_TEST_POSTGRES_URL,
AIOPS_TEST_BROKER_URL and AIOPS_TEST_REDIS_URL say. A test whose server is unreachable is
skipped with the reason, except with CI=true, where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import NoReturn
from uuid import uuid4

import aio_pika
import asyncpg
import pytest
from redis.asyncio import Redis

from aiops_core.bus.topology import ALL_QUEUES, DEAD_LETTER_ONLY_QUEUES
from aiops_core.cache import Cache, create_redis
from aiops_core.store import migrate
from tests.support.processes import AiopsProcess
from tests.support.redis_cluster import running_cluster
from tests.support.servers import rabbitmqctl, with_database

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "AIOPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("AIOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Ingest's OTLP/gRPC receiver is off in every ingest a test starts (in process or as a process), so
# that none competes for 4317; the tests of gRPC give theirs a free port.
os.environ["AIOPS_INGEST_GRPC_PORT"] = "0"


def server_unavailable(what: str, error: object) -> NoReturn:
    message = f"{what} is not reachable: {error}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a test that needs a server must not be skipped)", pytrace=False)
    pytest.skip(message)


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """A new, empty database, dropped after the test."""
    name = f"aiops_test_{uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        server_unavailable("PostgreSQL", exc)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(POSTGRES_ADMIN_URL, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh, migrated database."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=5)
    async with pool.acquire() as conn:
        await migrate(conn)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def broker_base_url() -> Iterator[str]:
    """A RabbitMQ vhost of this run's own (made with rabbitmqctl), or AIOPS_TEST_BROKER_URL."""
    given = os.environ.get("AIOPS_TEST_BROKER_URL")
    if given:
        yield given
        return
    vhost = f"aiops-test-{uuid4().hex[:8]}"
    try:
        rabbitmqctl("add_vhost", vhost)
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    except (OSError, subprocess.SubprocessError) as exc:
        server_unavailable("RabbitMQ (creating a test vhost with rabbitmqctl)", exc)
    yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    rabbitmqctl("delete_vhost", vhost)


@pytest.fixture
async def broker_url(broker_base_url: str) -> str:
    """The run's vhost with every platform queue deleted, so a test starts from nothing."""
    try:
        connection = await aio_pika.connect(broker_base_url, timeout=5)
    except (OSError, aio_pika.exceptions.AMQPError) as exc:
        server_unavailable("RabbitMQ", exc)
    async with connection:
        channel = await connection.channel()
        for spec in (*ALL_QUEUES, *DEAD_LETTER_ONLY_QUEUES):
            for name in (spec.name, spec.dead_letter_queue):
                await channel.queue_delete(name)
    return broker_base_url


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of the test's own, so that tests sharing the Redis database never meet."""
    return f"aiops-test-{uuid4().hex[:12]}:"


@pytest.fixture
def platform_env(database_url: str, broker_url: str, redis_prefix: str) -> dict[str, str]:
    return {
        "AIOPS_DATABASE_URL": database_url,
        "AIOPS_BROKER_URL": broker_url,
        "AIOPS_REDIS_URL": REDIS_URL,
        "AIOPS_REDIS_KEY_PREFIX": redis_prefix,
    }


@pytest.fixture
def processes(platform_env: dict[str, str]) -> Iterator[list[AiopsProcess]]:
    """Processes a test starts; every one still running is stopped afterwards (before the
    database and vhost they use are dropped)."""
    started: list[AiopsProcess] = []
    yield started
    for process in reversed(started):
        process.stop()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A three-node Redis Cluster of this test run's own, started at its first use."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        server_unavailable("Redis Cluster", "redis-server and redis-cli are not installed")
    with running_cluster(tmp_path_factory.mktemp("redis-cluster")) as url:
        yield url


@dataclass(frozen=True)
class WindowsRedis:
    """Where a test keeps the detector's windows: a client and the shards to spread them over."""

    client: Cache
    shards: int


@pytest.fixture(params=["redis", "redis-cluster"])
async def windows_redis(request: pytest.FixtureRequest) -> AsyncIterator[WindowsRedis]:
    """The single Redis (one shard), then the three-node cluster (sixteen shards)."""
    if request.param == "redis":
        single = Redis.from_url(REDIS_URL)
        try:
            await single.ping()
        except OSError as exc:
            server_unavailable("Redis", exc)
        yield WindowsRedis(single, shards=1)
        await single.aclose()
        return
    cluster = create_redis(request.getfixturevalue("redis_cluster_url"), cluster=True)
    await cluster.ping()
    yield WindowsRedis(cluster, shards=16)
    await cluster.aclose()


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        server_unavailable("Redis", exc)
    yield client
    await client.aclose()
