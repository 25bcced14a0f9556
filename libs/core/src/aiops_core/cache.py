"""The cache: Redis, or Redis Cluster, through redis.asyncio (hiredis parser); fakeredis only in
the all-in-one mode."""

from __future__ import annotations

from typing import Any, TypeAlias

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import Connection
from redis.connection import HiredisRespSerializer

# The client of either: what the platform does with Redis works on both (a script declares every
# key it touches, and the keys one script touches share a hash tag).
Cache: TypeAlias = Redis | RedisCluster


def create_redis(url: str, *, cluster: bool = False) -> Cache:
    """A client of the Redis at `url`; with `cluster`, of the Redis Cluster that node belongs to
    (the client learns the other nodes from it)."""
    if cluster:
        return RedisCluster.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    return Redis.from_url(
        url,
        socket_timeout=5,
        socket_connect_timeout=5,
        health_check_interval=30,
        connection_class=HiredisPackingConnection,  # rediss:// and unix:// keep their own
    )


class HiredisPackingConnection(Connection):
    """A connection that packs commands with hiredis, in C, as redis-py's blocking connections do;
    its asyncio ones pack them in Python, which was a fifth of the detector's evaluation of
    10,000 series (tens of thousands of key names a tick)."""

    _packer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        packed: list[bytes] = self._packer.pack(*args)
        return packed


def create_embedded_redis() -> Redis:
    """An in-memory Redis for the all-in-one mode, where no server is set up."""
    from fakeredis import FakeAsyncRedis  # only installed with the `embedded` extra

    return FakeAsyncRedis()


async def ping(redis: Cache) -> None:
    await redis.ping()


def as_text(value: bytes | str) -> str:
    """A Redis reply as text, whether the client decodes replies or not."""
    return value.decode() if isinstance(value, bytes) else value
