"""The Redis pub/sub channel that carries every incident notification: the outbox publishes on
it, the event stream reads it."""

from __future__ import annotations

from dataclasses import dataclass

from aiops_core.cache import Cache


@dataclass(frozen=True)
class NotificationChannel:
    redis: Cache
    name: str

    @classmethod
    def of(cls, redis: Cache, redis_key_prefix: str) -> NotificationChannel:
        return cls(redis, f"{redis_key_prefix}incidents")
