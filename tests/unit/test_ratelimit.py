"""The rate limiter's script on fakeredis (the all-in-one mode's Redis), and its pure parts."""

from __future__ import annotations

import pytest
from fakeredis import FakeAsyncRedis

from aiops_core.ratelimit import RateDecision, RateLimiter, client_identity
from tests.support.waiting import eventually


async def test_the_script_runs_on_fakeredis() -> None:
    redis = FakeAsyncRedis()
    limiter = RateLimiter(redis, prefix="aiops:", scope="ingest", rate_per_s=50, burst=3)
    decisions = [await limiter.check("bearer:s3cret") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 0 < decisions[-1].retry_after_s <= 0.02
    [key] = await redis.keys("*")
    assert key.decode().startswith("aiops:ratelimit:ingest:")
    assert b"s3cret" not in key
    assert 0 < await redis.pttl(key) <= 60
    # Refilled by fakeredis' TIME as real time passes.
    await eventually(
        lambda: limiter.check("bearer:s3cret"), lambda d: d.allowed, timeout_s=5, what="a token back"
    )


@pytest.mark.parametrize(
    ("headers", "client", "identity"),
    [
        ([(b"authorization", b"Bearer abc")], ("10.0.0.1", 1), "bearer:abc"),
        ([(b"authorization", b"bearer  abc ")], ("10.0.0.1", 1), "bearer:abc"),
        ([(b"authorization", b"Basic dXNlcg==")], ("10.0.0.1", 1), "addr:10.0.0.1"),
        ([(b"authorization", b"Bearer ")], ("10.0.0.1", 1), "addr:10.0.0.1"),
        ([], ("10.0.0.1", 1), "addr:10.0.0.1"),
        ([], None, "addr:unknown"),
    ],
)
def test_client_identity(
    headers: list[tuple[bytes, bytes]], client: tuple[str, int] | None, identity: str
) -> None:
    assert client_identity({"type": "http", "headers": headers, "client": client}) == identity


@pytest.mark.parametrize(
    ("seconds", "header"), [(0.0, "1"), (0.01, "1"), (1.0, "1"), (1.2, "2"), (99.9, "100")]
)
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(seconds: float, header: str) -> None:
    assert RateDecision(allowed=False, retry_after_s=seconds).retry_after_header == header


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(FakeAsyncRedis(), prefix="p:", scope="s", rate_per_s=1, burst=0)
