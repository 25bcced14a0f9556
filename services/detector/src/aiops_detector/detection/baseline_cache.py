"""Baselines learned from the store's rollups, cached in Redis so that replicas and successive
evaluations share one query per series per cache period. Each learning also records, in the
store, how much healthy history the series has, for the API to say what is still learning.

The last baseline of each series is also kept (for a day after its series was last learned), so
that a measure which had learned keeps its opinion when its healthy history shrinks below what
learning needs (see `Baseline.keeping`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from aiops_core.cache import Cache
from aiops_core.healthy_time import Measure
from aiops_core.windows import Series
from aiops_detector.detection.baselines import Baseline, HistoryPlan
from aiops_detector.detection.repository import DetectionRepository, SeriesLearning
from aiops_detector.detection.series_keys import SeriesKeys

# A baseline still learning is learned again this often, so that it starts judging soon after
# it has enough history rather than a whole cache period later.
LEARNING_TTL_S = 5
KEPT_TTL_S = 24 * 3600


class BaselineCache:
    def __init__(
        self,
        redis: Cache,
        repository: DetectionRepository,
        *,
        recent: timedelta,
        ttl_s: int,
        min_history_s: float,
        keys: SeriesKeys,
    ) -> None:
        self._redis = redis
        self._repository = repository
        self._recent = recent
        self._ttl_s = ttl_s
        self._min_history_s = min_history_s
        self._keys = keys
        # The cached value each series had at the last call, and what it parsed to.
        self._parsed: dict[Series, tuple[bytes, Baseline]] = {}

    def key(self, series: Series) -> str:
        return self._keys.of(series.id, "baseline")

    def kept_key(self, series: Series) -> str:
        return self._keys.of(series.id, "baseline-kept")

    async def get_many(self, series: Sequence[Series], now: datetime) -> dict[Series, Baseline]:
        """Each series' baseline: one round trip for the cached ones, then the store for the
        others."""
        if not series:
            return {}
        baselines: dict[Series, Baseline] = {}
        missing: list[Series] = []
        parsed: dict[Series, tuple[bytes, Baseline]] = {}
        for one, cached in zip(series, await self._get_many(series, self.key), strict=True):
            if cached is None:
                missing.append(one)
                continue
            # Most ticks find the same cached value as the last: parsing it again is most of
            # what an evaluation of many series would cost.
            last = self._parsed.get(one)
            baseline = (
                last[1] if last is not None and last[0] == cached else Baseline.from_json(json.loads(cached))
            )
            baselines[one] = baseline
            parsed[one] = (cached, baseline)
        self._parsed = parsed
        if missing:
            kept = await self._get_many(missing, self.kept_key)
            learning = []
            async with self._redis.pipeline(transaction=False) as pipe:
                for one, earlier in zip(missing, kept, strict=True):
                    fresh = await self.learn(one, now)
                    earlier_baseline = Baseline.from_json(json.loads(earlier)) if earlier else None
                    baseline = baselines[one] = fresh.keeping(earlier_baseline, self._min_history_s)
                    learned = all(baseline.learned(m, self._min_history_s) for m in Measure)
                    ttl_s = self._ttl_s if learned else min(self._ttl_s, LEARNING_TTL_S)
                    value = json.dumps(baseline.to_json())
                    pipe.set(self.key(one), value, ex=ttl_s)
                    pipe.set(self.kept_key(one), value, ex=KEPT_TTL_S)
                    learning.append(SeriesLearning(one, now, dict(baseline.history_s), self._min_history_s))
                await pipe.execute()
            await self._repository.record_learning(learning)
        return baselines

    async def _get_many(self, series: Sequence[Series], key: Callable[[Series], str]) -> list[bytes | None]:
        """The value at `key` of each series, in order: an MGET per shard (Redis Cluster takes
        none across them), all in one round trip."""
        shards = self._keys.by_shard(series)
        async with self._redis.pipeline(transaction=False) as pipe:
            for members in shards.values():
                # The command itself: redis-py's cluster pipeline blocks its `mget` method.
                pipe.execute_command("MGET", *(key(one) for one in members))
            replies = await pipe.execute()
        values = {
            one: value
            for members, reply in zip(shards.values(), replies, strict=True)
            for one, value in zip(members, reply, strict=True)
        }
        return [values[one] for one in series]

    async def forget(self, series: Series) -> None:
        await self._redis.delete(self.key(series))

    async def learn(self, series: Series, now: datetime) -> Baseline:
        first_seen = await self._repository.first_seen(series)
        if first_seen is None:
            return Baseline(history_s={measure: 0.0 for measure in Measure})
        plan = HistoryPlan.of(
            now,
            self._recent,
            first_seen,
            await self._repository.troubles(series.service, first_seen, series.operation),
            await self._repository.acceptances(series),
        )
        return plan.learn(await self._repository.rollups(series, plan.ranges()))
