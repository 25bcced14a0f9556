from uuid import uuid4

from redis.asyncio import Redis

from aiops_core.cache import create_embedded_redis, create_redis, ping
from tests.conftest import REDIS_URL


async def test_real_redis_round_trip(redis_client: Redis) -> None:
    client = create_redis(REDIS_URL)
    key = f"aiops-test:{uuid4().hex}"
    try:
        await ping(client)
        await client.set(key, "42", ex=60)
        assert await redis_client.get(key) == b"42"
    finally:
        await client.delete(key)
        await client.aclose()


async def test_embedded_redis_speaks_the_same_api() -> None:
    client = create_embedded_redis()
    await ping(client)
    await client.hincrby("counts", "payment", 3)
    assert await client.hget("counts", "payment") == b"3"
