"""The Redis token bucket and its middleware, on the real Redis."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from starlette.types import ASGIApp

from aiops_core.cache import create_redis
from aiops_core.ratelimit import RateLimiter, RateLimitMiddleware, install_rate_limit
from tests.support.apps import started
from tests.support.processes import free_port
from tests.support.waiting import eventually

LimiterFactory = Callable[..., RateLimiter]


@pytest.fixture
async def make_limiter(
    redis_client: Redis, redis_url: str, redis_prefix: str
) -> AsyncIterator[LimiterFactory]:
    """RateLimiters on the test's key prefix; their keys are deleted afterwards."""
    client = create_redis(redis_url)

    def make(*, rate_per_s: float, burst: int, scope: str = "api") -> RateLimiter:
        return RateLimiter(client, prefix=redis_prefix, scope=scope, rate_per_s=rate_per_s, burst=burst)

    yield make
    await client.aclose()
    async for key in redis_client.scan_iter(match=f"{redis_prefix}*"):
        await redis_client.delete(key)


async def test_a_burst_is_allowed_then_refused_with_the_time_to_the_next_token(
    make_limiter: LimiterFactory, redis_client: Redis, redis_prefix: str
) -> None:
    limiter = make_limiter(rate_per_s=0.5, burst=5)
    decisions = [await limiter.check("addr:10.0.0.1") for _ in range(7)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2
    # Empty bucket at 0.5 tokens/s: the next token is about 2 s away.
    assert 1.5 < decisions[-1].retry_after_s <= 2.0
    assert decisions[-1].retry_after_header == "2"
    [key] = [k async for k in redis_client.scan_iter(match=f"{redis_prefix}*")]
    assert key.decode() == limiter.key("addr:10.0.0.1")
    assert key.decode().startswith(f"{redis_prefix}ratelimit:api:")
    # It expires once it would be full again: 5 tokens at 0.5/s.
    assert 9_000 < await redis_client.pttl(key) <= 10_000


async def test_the_bucket_refills_as_time_passes(make_limiter: LimiterFactory, redis_client: Redis) -> None:
    limiter = make_limiter(rate_per_s=20, burst=2)
    assert [(await limiter.check("a")).allowed for _ in range(3)] == [True, True, False]
    await eventually(lambda: limiter.check("a"), lambda d: d.allowed, timeout_s=5, what="a token back")
    # Once full again (2 tokens at 20/s: 0.1 s) the bucket expires; it comes back with no more
    # than the burst.
    await eventually(
        lambda: redis_client.exists(limiter.key("a")), lambda n: n == 0, timeout_s=5, what="expiry"
    )
    assert [(await limiter.check("a")).allowed for _ in range(3)] == [True, True, False]


async def test_concurrent_checks_take_exactly_the_tokens_there_are(make_limiter: LimiterFactory) -> None:
    limiter = make_limiter(rate_per_s=0.001, burst=10)
    decisions = await asyncio.gather(*(limiter.check("token:shared") for _ in range(20)))
    assert sum(d.allowed for d in decisions) == 10


async def test_each_identity_and_each_scope_has_its_own_bucket(make_limiter: LimiterFactory) -> None:
    api = make_limiter(rate_per_s=0.001, burst=1)
    ingest = make_limiter(rate_per_s=0.001, burst=1, scope="ingest")
    assert (await api.check("addr:10.0.0.1")).allowed
    assert not (await api.check("addr:10.0.0.1")).allowed
    assert (await api.check("addr:10.0.0.2")).allowed
    assert (await ingest.check("addr:10.0.0.1")).allowed


async def test_an_unreachable_redis_lets_requests_through_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = create_redis(f"redis://127.0.0.1:{free_port()}/0")
    limiter = RateLimiter(down, prefix="x:", scope="api", rate_per_s=1, burst=1)
    try:
        with caplog.at_level(logging.WARNING, logger="aiops_core.ratelimit"):
            decisions = [await limiter.check("a") for _ in range(3)]
    finally:
        await down.aclose()
    assert all(d.allowed for d in decisions)
    assert len([r for r in caplog.records if "rate limits not enforced" in r.message]) == 1


async def test_a_rate_of_zero_never_calls_redis() -> None:
    down = create_redis(f"redis://127.0.0.1:{free_port()}/0")
    limiter = RateLimiter(down, prefix="x:", scope="api", rate_per_s=0, burst=1)
    assert all([(await limiter.check("a")).allowed for _ in range(5)])
    assert limiter._skip_redis_until == 0.0  # no failure was seen: Redis was never asked
    await down.aclose()


def _tiny_app(
    redis_url: str,
    redis_prefix: str,
    *,
    unlimited_paths: Collection[str] = (),
    unlimited_prefixes: Sequence[str] = (),
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, RateLimiter]]:
        cache = create_redis(redis_url)
        yield {"rate_limiter": RateLimiter(cache, prefix=redis_prefix, scope="api", rate_per_s=0.01, burst=2)}
        await cache.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/things")
    async def things() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/livez")
    async def livez() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/")
    async def page() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/files/{name}")
    async def file(name: str) -> dict[str, str]:
        return {"name": name}

    install_rate_limit(app, unlimited_paths=unlimited_paths, unlimited_prefixes=unlimited_prefixes)
    return app


@asynccontextmanager
async def _client(app: ASGIApp, client_address: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(client_address, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_the_middleware_answers_429_with_retry_after_and_the_error_body(
    make_limiter: LimiterFactory, redis_url: str, redis_prefix: str
) -> None:
    app = _tiny_app(redis_url, redis_prefix)
    async with started(app) as served, _client(served) as client:
        statuses = [(await client.get("/things")).status_code for _ in range(2)]
        refused = await client.get("/things")
        assert statuses == [200, 200]
        assert refused.status_code == 429
        # An empty bucket at 0.01 tokens/s: the next token is 100 s away.
        assert 99 <= int(refused.headers["retry-after"]) <= 100
        body = refused.json()
        assert set(body) == {"error"}
        assert body["error"]["code"] == "rate_limited"
        assert "retry after" in body["error"]["message"]
        # Health is never limited.
        assert [(await client.get("/livez")).status_code for _ in range(5)] == [200] * 5

        # Another address, or a bearer token, is another client.
        async with _client(served, "10.1.2.3") as other:
            assert (await other.get("/things")).status_code == 200
        tokened = [
            (await client.get("/things", headers={"authorization": "Bearer s3cret"})).status_code
            for _ in range(3)
        ]
        assert tokened == [200, 200, 429]
        assert (await client.get("/things", headers={"authorization": "Bearer other"})).status_code == 200


async def test_the_paths_a_service_names_are_not_limited(redis_url: str, redis_prefix: str) -> None:
    app = _tiny_app(redis_url, redis_prefix, unlimited_paths={"/"}, unlimited_prefixes=("/files/",))
    async with started(app) as served, _client(served) as client:
        for _ in range(5):
            assert (await client.get("/")).status_code == 200
            assert (await client.get("/files/app.js")).status_code == 200
        assert [(await client.get("/things")).status_code for _ in range(3)] == [200, 200, 429]
    # Nor are Swagger UI's files, in any service.
    app = _tiny_app(redis_url, f"{redis_prefix}docs:")
    async with started(app) as served, _client(served) as client:
        assert 429 not in [(await client.get("/docs/assets/swagger-ui.css")).status_code for _ in range(5)]
    # Without them, the same paths are limited like any other.
    app = _tiny_app(redis_url, f"{redis_prefix}plain:")
    async with started(app) as served, _client(served) as client:
        assert [(await client.get("/files/app.js")).status_code for _ in range(3)] == [200, 200, 429]


async def test_the_raw_token_never_reaches_redis(
    redis_client: Redis, redis_url: str, redis_prefix: str
) -> None:
    app = _tiny_app(redis_url, redis_prefix)
    async with started(app) as served, _client(served) as client:
        assert (await client.get("/things", headers={"authorization": "Bearer s3cret"})).status_code == 200
    keys = [k async for k in redis_client.scan_iter(match=f"{redis_prefix}*")]
    assert len(keys) == 1
    assert b"s3cret" not in keys[0]
    assert all(b"s3cret" not in v for v in (await redis_client.hgetall(keys[0])).values())
    await redis_client.delete(*keys)


async def test_the_middleware_without_a_limiter_fails_loudly() -> None:
    app = FastAPI()
    app.add_middleware(RateLimitMiddleware)

    @app.get("/things")
    async def things() -> None:
        return None

    async with _client(app) as client:
        with pytest.raises(RuntimeError, match=r"lifespan must yield a rate_limiter"):
            await client.get("/things")
