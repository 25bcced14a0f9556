"""Baselines learned from the store's rollups, cached in Redis so that replicas and successive
evaluations share one query per series per cache period."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from redis.asyncio import Redis

from aiops_detector.detection.baselines import Baseline, history_ranges, learn_baseline
from aiops_detector.detection.repository import DetectionRepository
from aiops_detector.detection.windows import Series

_NO_BASELINE = "null"


class BaselineCache:
    def __init__(
        self,
        redis: Redis,
        repository: DetectionRepository,
        *,
        recent: timedelta,
        ttl_s: int,
        prefix: str = "aiops:",
    ) -> None:
        self._redis = redis
        self._repository = repository
        self._recent = recent
        self._ttl_s = ttl_s
        self._prefix = prefix

    async def get_many(self, series: Sequence[Series], now: datetime) -> dict[Series, Baseline | None]:
        """Each series' baseline (None while it has no history): one round trip for the cached
        ones, then the store for the others."""
        if not series:
            return {}
        keys = [f"{self._prefix}baseline:{one.id}" for one in series]
        baselines: dict[Series, Baseline | None] = {}
        missing: list[tuple[Series, str]] = []
        for one, key, cached in zip(series, keys, await self._redis.mget(keys), strict=True):
            if cached is None:
                missing.append((one, key))
            else:
                data = json.loads(cached)
                baselines[one] = None if data is None else Baseline.from_json(data)
        if missing:
            async with self._redis.pipeline(transaction=False) as pipe:
                for one, key in missing:
                    baseline = baselines[one] = await self.learn(one, now)
                    value = _NO_BASELINE if baseline is None else json.dumps(baseline.to_json())
                    pipe.set(key, value, ex=self._ttl_s)
                await pipe.execute()
        return baselines

    async def learn(self, series: Series, now: datetime) -> Baseline | None:
        first_seen = await self._repository.first_seen(series)
        if first_seen is None:
            return None
        ranges = history_ranges(now, self._recent, first_seen)
        rows = await self._repository.rollups(series, ranges.all())
        born = first_seen if first_seen >= ranges.recent[0] else None
        return learn_baseline(rows, seasonal=bool(ranges.seasonal), born=born)
