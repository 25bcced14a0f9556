"""The Redis pub/sub channel that carries every incident notification: the outbox publishes on
it, the event stream reads it."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis


@dataclass(frozen=True)
class NotificationChannel:
    redis: Redis
    name: str

    @classmethod
    def of(cls, redis: Redis, redis_key_prefix: str) -> NotificationChannel:
        return cls(redis, f"{redis_key_prefix}incidents")
