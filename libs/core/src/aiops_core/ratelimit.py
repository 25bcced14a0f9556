"""Per-client rate limits for every service's HTTP API: a token bucket per client in Redis.

Every replica of a service shares the buckets, so a client's limit holds however many replicas
serve it. A bucket holds up to `burst` tokens and refills at `rate_per_s`; each request takes
one, and a request that finds none is answered 429 with `Retry-After` (whole seconds until a
token is back) and the platform's JSON error body (code `rate_limited`). One Lua script reads,
refills and takes atomically, on Redis' own clock, so concurrent requests and replicas with
skewed clocks can neither overspend nor double-refill.

A client is its bearer token when the request has `Authorization: Bearer ...`, else its address
(behind a proxy that is the proxy's, unless uvicorn is told to trust its X-Forwarded-For). Keys
are `<prefix>ratelimit:<scope>:<blake2b of the identity>`: no raw token ever reaches Redis. A
bucket expires once it would be full again, so idle clients cost no memory.

The limiter fails open: when Redis cannot be reached or is slow, requests go through (a cache
outage must not take telemetry or the API down), with a warning at most every 30 s. A rate of
0 turns it off without any Redis call. Health, metrics and docs paths are never limited.

Usage: the middleware is added when the app is built, and finds its limiter at request time in
the state the lifespan yields, under `rate_limiter`, once the Redis client exists:

    app = create_service_app(...)
    install_rate_limit(app)

    # in the lifespan
    limiter = RateLimiter(cache, prefix=settings.redis_key_prefix, scope="api", rate_per_s=..., burst=...)
    yield {"rate_limiter": limiter, ...}

`install_rate_limit` puts the middleware inside the request metrics, so refusals are counted
there as 429s; `app.add_middleware(RateLimitMiddleware)` works as well but puts it outside.
A request that reaches the middleware before the lifespan has set a limiter is a programming
error and fails loudly.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from hashlib import blake2b

from fastapi import FastAPI
from redis.exceptions import RedisError
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from aiops_core.api_docs import ASSETS_PATH as DOCS_ASSETS_PATH
from aiops_core.cache import Cache
from aiops_core.errors import RateLimitedError, error_response

log = logging.getLogger(__name__)

UNLIMITED_PATHS = frozenset(
    {
        "/livez",
        "/readyz",
        "/health",
        "/metrics",
        "/docs",
        "/api/docs",
        "/openapi.json",
    }
)
# Swagger UI's files: a docs page loads three of them.
UNLIMITED_PREFIXES = (f"{DOCS_ASSETS_PATH}/",)

# KEYS[1]: the bucket, a hash {tokens, ts}. ARGV: rate (tokens a second), burst (most tokens).
# Returns {1 if a token was taken else 0, seconds until one is available (a string: Redis would
# truncate a Lua number to an integer)}. TIME is Redis' clock (it also works in fakeredis), so
# the replicas' clocks do not matter; scripts replicate their effects, so TIME is allowed.
_TAKE_SCRIPT = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(state[1]), tonumber(state[2])
if tokens == nil or ts == nil then
  tokens, ts = burst, now
end
-- max(0, ...): Redis' clock may step back after a failover.
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed, wait = 0, (1 - tokens) / rate
if tokens >= 1 then
  tokens, allowed, wait = tokens - 1, 1, 0
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', now))
-- Once full again the bucket is the same as no bucket: let it go.
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((burst - tokens) / rate * 1000)))
return {allowed, string.format('%.6f', wait)}
"""

_WARN_EVERY_S = 30.0
# After Redis failed, requests skip it this long: a Redis that hangs must not add a timeout to
# every request.
_BACKOFF_S = 1.0


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after_s: float = 0.0

    @property
    def retry_after_header(self) -> str:
        """`Retry-After` takes whole seconds; rounding down would invite an early retry."""
        return str(max(1, math.ceil(self.retry_after_s)))


_ALLOWED = RateDecision(allowed=True)


class RateLimiter:
    """Token buckets of one scope (a service's API) for every client, kept in Redis."""

    def __init__(
        self,
        redis: Cache,
        *,
        prefix: str,
        scope: str,
        rate_per_s: float,
        burst: int,
        timeout_s: float = 0.5,
    ) -> None:
        if rate_per_s < 0 or burst < 1:
            raise ValueError("rate_per_s must be >= 0 and burst >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._key_prefix = f"{prefix}ratelimit:{scope}:"
        self._timeout_s = timeout_s
        self._take = redis.register_script(_TAKE_SCRIPT)
        self._skip_redis_until = 0.0
        self._warned_at = -math.inf

    def key(self, identity: str) -> str:
        return self._key_prefix + blake2b(identity.encode(), digest_size=16).hexdigest()

    async def check(self, identity: str) -> RateDecision:
        """Take a token from `identity`'s bucket if it has one."""
        if self.rate_per_s == 0 or time.monotonic() < self._skip_redis_until:
            return _ALLOWED
        try:
            async with asyncio.timeout(self._timeout_s):
                allowed, wait = await self._take(
                    keys=[self.key(identity)], args=[repr(self.rate_per_s), self.burst]
                )
        except (RedisError, OSError, TimeoutError) as exc:
            self._fail_open(exc)
            return _ALLOWED
        return RateDecision(allowed=bool(allowed), retry_after_s=float(wait))

    def _fail_open(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._skip_redis_until = now + _BACKOFF_S
        if now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            log.warning("rate limits not enforced: Redis failed (%r); letting requests through", exc)


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` value; "" for anything else."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def identity_of(authorization: str | None, address: str) -> str:
    """Who a client is, for its bucket: its bearer token if it sends one, else its address."""
    token = bearer_token(authorization)
    return "bearer:" + token if token else "addr:" + address


def client_identity(scope: Scope) -> str:
    """The identity (`identity_of`) of an HTTP request."""
    authorization = Headers(scope=scope).get("authorization")
    client: tuple[str, int] | None = scope.get("client")
    return identity_of(authorization, client[0] if client else "unknown")


class RateLimitMiddleware:
    """Applies the lifespan state's `rate_limiter` to every HTTP request but health, metrics and docs, and
    the paths a service adds: `unlimited_paths` exactly, everything under `unlimited_prefixes`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        unlimited_paths: Collection[str] = (),
        unlimited_prefixes: Sequence[str] = (),
    ) -> None:
        self.app = app
        self._unlimited_paths = UNLIMITED_PATHS | frozenset(unlimited_paths)
        self._unlimited_prefixes = UNLIMITED_PREFIXES + tuple(unlimited_prefixes)

    def _unlimited(self, path: str) -> bool:
        return path in self._unlimited_paths or path.startswith(self._unlimited_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._unlimited(scope["path"]):
            await self.app(scope, receive, send)
            return
        limiter = scope.get("state", {}).get("rate_limiter")
        if not isinstance(limiter, RateLimiter):
            raise RuntimeError("RateLimitMiddleware: the app's lifespan must yield a rate_limiter")
        decision = await limiter.check(client_identity(scope))
        if decision.allowed:
            await self.app(scope, receive, send)
            return
        # Answered before routing, so every route (OTLP's included) gets the JSON error body.
        retry_after = decision.retry_after_header
        refusal = RateLimitedError(
            f"rate limit of {limiter.rate_per_s:g} requests/s (bursts of {limiter.burst}) exceeded; "
            f"retry after {retry_after} s",
            retry_after_s=int(retry_after),
        )
        await error_response(refusal)(scope, receive, send)


def install_rate_limit(
    app: FastAPI, *, unlimited_paths: Collection[str] = (), unlimited_prefixes: Sequence[str] = ()
) -> None:
    """Add `RateLimitMiddleware` innermost, inside the request metrics, so that they count the
    429s. Call it before the app serves its first request. A service's static files (a web
    UI's) are better left unlimited: they would spend the budget its API calls need."""
    if app.middleware_stack is not None:
        raise RuntimeError("install_rate_limit: the app has already started")
    app.user_middleware.append(
        Middleware(
            RateLimitMiddleware, unlimited_paths=unlimited_paths, unlimited_prefixes=unlimited_prefixes
        )
    )
