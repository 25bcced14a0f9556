"""Live counters and the leaderboard of failing operations, kept in Redis for dashboards.

They are best-effort: written after the transaction that made the change, so a crash in
between loses one increment, and a Redis outage is logged rather than failing the event.
"""

from __future__ import annotations

import logging
from typing import cast

from redis.exceptions import RedisError

from aiops_core.cache import Cache, as_text
from aiops_core.models import Anomaly

log = logging.getLogger(__name__)


class LiveStats:
    def __init__(self, redis: Cache, *, prefix: str) -> None:
        self.redis = redis
        self.counters_key = f"{prefix}incidents:counters"
        self.leaderboard_key = f"{prefix}incidents:failing_operations"

    async def anomaly_detected(self, anomaly: Anomaly, *, incident_opened: bool) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hincrby(self.counters_key, "anomalies", 1)
                pipe.hincrby(self.counters_key, f"anomalies:{anomaly.kind.value}", 1)
                if incident_opened:
                    pipe.hincrby(self.counters_key, "incidents_opened", 1)
                pipe.zincrby(self.leaderboard_key, 1, f"{anomaly.service}\t{anomaly.operation}")
                await pipe.execute()
        except RedisError as exc:
            log.warning("live counters not updated: %s", exc)

    async def incident_resolved(self) -> None:
        try:
            await self.redis.hincrby(self.counters_key, "incidents_resolved", 1)
        except RedisError as exc:
            log.warning("live counters not updated: %s", exc)

    async def counters(self) -> dict[str, int]:
        raw = await self.redis.hgetall(self.counters_key)
        return {as_text(k): int(v) for k, v in raw.items()}

    async def failing_operations(self, limit: int) -> list[tuple[str, str, int]]:
        """(service, operation, anomalies), most first."""
        rows = await self.redis.zrevrange(self.leaderboard_key, 0, limit - 1, withscores=True)
        ranked = []
        for row in rows:
            member, score = cast(tuple[bytes | str, float], row)
            service, _, operation = as_text(member).partition("\t")
            ranked.append((service, operation, int(score)))
        return ranked
