"""Which detector replica evaluates which service: the replicas alive now, and a rendezvous hash
that gives each service to one of them.

Each replica announces itself at every evaluation (a sorted set of replica ids, scored by when
each last evaluated); one not heard of for `stale_s` is gone, and one that stops says so. A
service belongs to the live replica with the highest hash of (service, replica): every replica
computes the same owner from the same set, n replicas each get about 1/n of the services, and a
service changes hands only when its owner leaves or a newcomer outranks it. While replicas join
or leave two may briefly see different sets; the per-tick claim in Redis still lets only one
evaluate a service in a tick.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable

from aiops_core.cache import Cache, as_text


class ReplicaSet:
    """This replica's view of the live replicas; a component whose stop leaves the set."""

    def __init__(self, redis: Cache, key: str) -> None:
        self.id = uuid.uuid4().hex
        self._redis = redis
        self._key = key

    async def live(self, now_s: float, *, stale_s: float) -> list[str]:
        """Announce this replica as alive at `now_s`; the replicas heard of within `stale_s`."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self._key, {self.id: now_s})
            pipe.zremrangebyscore(self._key, "-inf", f"({now_s - stale_s}")
            pipe.zrange(self._key, 0, -1)
            pipe.expire(self._key, max(1, int(stale_s * 2)))
            replies = await pipe.execute()
        return [as_text(member) for member in replies[2]]

    def owned(self, services: Iterable[str], replicas: list[str]) -> list[str]:
        """The services that fall to this replica among `replicas`."""
        return [service for service in services if owner(service, replicas) == self.id]

    async def start(self) -> None:
        """Nothing to do: a replica joins at its first evaluation."""

    async def stop(self) -> None:
        """Leave at once, so that the others take this replica's services at their next tick."""
        await self._redis.zrem(self._key, self.id)


def owner(service: str, replicas: list[str]) -> str | None:
    """The replica a service falls to: the highest hash of (service, replica)."""
    return max(replicas, key=lambda replica: _rank(service, replica), default=None)


def _rank(service: str, replica: str) -> bytes:
    return hashlib.blake2b(f"{service}\x00{replica}".encode(), digest_size=8).digest()
