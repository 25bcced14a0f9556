"""The cache: Redis through redis.asyncio (hiredis parser); fakeredis only in the all-in-one mode."""

from __future__ import annotations

from redis.asyncio import Redis


def create_redis(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)


def create_embedded_redis() -> Redis:
    """An in-memory Redis for the all-in-one mode, where no server is set up."""
    from fakeredis import FakeAsyncRedis  # only installed with the `embedded` extra

    return FakeAsyncRedis()


async def ping(redis: Redis) -> None:
    await redis.ping()


def as_text(value: bytes | str) -> str:
    """A Redis reply as text, whether the client decodes replies or not."""
    return value.decode() if isinstance(value, bytes) else value
