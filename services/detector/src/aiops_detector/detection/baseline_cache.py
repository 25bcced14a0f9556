"""Baselines learned from the store's rollups, cached in Redis so that replicas and successive
evaluations share one query per series per cache period."""

from __future__ import annotations

import json
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

    async def get(self, series: Series, now: datetime) -> Baseline | None:
        key = f"{self._prefix}baseline:{series.id}"
        cached = await self._redis.get(key)
        if cached is not None:
            data = json.loads(cached)
            return None if data is None else Baseline.from_json(data)
        baseline = await self.learn(series, now)
        value = _NO_BASELINE if baseline is None else json.dumps(baseline.to_json())
        await self._redis.set(key, value, ex=self._ttl_s)
        return baseline

    async def learn(self, series: Series, now: datetime) -> Baseline | None:
        first_seen = await self._repository.first_seen(series)
        if first_seen is None:
            return None
        ranges = history_ranges(now, self._recent, first_seen)
        rows = await self._repository.rollups(series, ranges.all())
        born = first_seen if first_seen >= ranges.recent[0] else None
        return learn_baseline(rows, seasonal=bool(ranges.seasonal), born=born)
