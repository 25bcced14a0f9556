"""What detection costs, measured in this process against the real Redis (and PostgreSQL for
the evaluation's open-anomaly query):

- CPU per span of the window path: parse a span batch as the consumer does, aggregate it per
  series and second, merge it into Redis (the detector's share; Redis's own CPU is printed apart);
  from it, the share of a core per 1,000 spans/s;
- Redis memory per 1,000 series, each with a request every second for the 2 minutes of
  per-second slots kept (15 with the multivariate model);
- one evaluation of 1,000 series, and of 50,000 (baselines cached): its time, the detector's and
  Redis' CPU in it, and the Python memory it peaks at (garbage collection tuned as in the served
  detector).

    .venv/bin/python bench/detect_cost.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import asyncpg
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiops_core.bus import IncomingMessage, InMemoryBus
from aiops_core.cache import create_redis
from aiops_core.healthy_time import Measure
from aiops_core.models import SpanBatch
from aiops_core.runner import tune_gc_for_serving
from aiops_core.store import migrate
from aiops_core.windows import Series, SeriesDelta, SlotDelta
from aiops_detector.detection.baseline_cache import BaselineCache
from aiops_detector.detection.baselines import Baseline, RobustStat
from aiops_detector.detection.metrics import DetectionMetrics
from aiops_detector.detection.repository import DetectionRepository
from aiops_detector.detection.service import DetectionConfig, DetectionService
from aiops_detector.detection.window_consumer import WindowConsumer
from aiops_detector.detection.window_store import StoreTimes, WindowStore
from bench.sandbox import REDIS_URL, bench_platform
from tests.support.spans import batch_message, request_span


def redis_cpu_s(info: dict[str, float]) -> float:
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def window_path_cost(redis: Redis, prefix: str, spans: int, per_batch: int, series: int) -> None:
    windows = WindowStore(redis, prefix=prefix)
    consumer = WindowConsumer(InMemoryBus(), windows, DetectionMetrics(CollectorRegistry()), prefetch=1)
    now = datetime.now(UTC)
    bodies = []
    for b in range(spans // per_batch):
        batch = [
            request_span(
                now + timedelta(milliseconds=i),
                service=f"svc-{(b + i) % series // 10}",
                operation=f"GET /op/{(b + i) % series}",
                duration_ms=20 + i % 50,
                error="boom" if i % 100 == 0 else None,
            )
            for i in range(per_batch)
        ]
        bodies.append(
            batch_message(SpanBatch(batch_id=uuid4(), created_at_unix_nano=time.time_ns(), spans=batch))
        )
    redis_before = redis_cpu_s(await redis.info("cpu"))
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    for body in bodies:
        await consumer.handle(IncomingMessage(body=body, routing_key="spans.batch"))
    cpu = time.process_time() - cpu_before
    wall = time.perf_counter() - wall_before
    redis_cpu = redis_cpu_s(await redis.info("cpu")) - redis_before
    total = len(bodies) * per_batch
    print(f"window path: {total:,} spans in batches of {per_batch} across {series} series")
    print(f"  {'detector CPU per span':<40}{cpu / total * 1e6:>8.1f} µs")
    print(f"  {'Redis CPU per span':<40}{redis_cpu / total * 1e6:>8.1f} µs")
    print(f"  {'detector share of a core / 1,000 spans/s':<40}{cpu / total * 1000:>8.1%}")
    print(f"  {'Redis share of a core / 1,000 spans/s':<40}{redis_cpu / total * 1000:>8.1%}")
    print(f"  {'spans/s one detector process merges':<40}{total / wall:>8,.0f}")


async def memory_per_series(redis: Redis, prefix: str, series_count: int, history_s: int) -> list[Series]:
    windows = WindowStore(redis, prefix=prefix, times=StoreTimes(history_s=history_s))
    all_series = [Series(f"svc-{n // 10}", f"GET /mem/{n}") for n in range(series_count)]
    start = int(time.time()) - history_s
    before = int((await redis.info("memory"))["used_memory"])
    for chunk in range(0, history_s, 30):
        # Batches of 1,000 series, as a batch of spans touches a few of them at most.
        for first in range(0, series_count, 1000):
            deltas: dict[Series, SeriesDelta] = {}
            for one in all_series[first : first + 1000]:
                slots = {}
                for second in range(start + chunk, start + min(chunk + 30, history_s)):
                    slot = SlotDelta(requests=1)
                    slot.latency.add(20 + second % 40)
                    slots[second] = slot
                deltas[one] = SeriesDelta(slots=slots)
            await windows.merge(uuid4(), deltas)
    used = int((await redis.info("memory"))["used_memory"]) - before
    print(f"Redis memory: {series_count:,} series x {history_s} s of slots (a request every second)")
    print(f"  {'per 1,000 series':<40}{used / series_count * 1000 / 2**20:>8.1f} MB")
    return all_series


async def evaluation_cost(redis: Redis, prefix: str, database_url: str, series: list[Series]) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    async with pool.acquire() as conn:
        await migrate(conn)
    repository = DetectionRepository(pool)
    windows = WindowStore(redis, prefix=prefix)
    baselines = BaselineCache(
        redis, repository, recent=timedelta(hours=1), ttl_s=600, min_history_s=90, keys=windows.keys
    )
    usual = Baseline(
        RobustStat(1, 0.1), 0.005, RobustStat(40, 5), RobustStat(60, 8), {m: 3600.0 for m in Measure}
    )
    async with redis.pipeline(transaction=False) as pipe:
        for one in series:
            pipe.set(baselines.key(one), json.dumps(usual.to_json()), ex=600)
        await pipe.execute()
    service = DetectionService(
        redis=redis,
        windows=windows,
        baselines=baselines,
        repository=repository,
        bus=InMemoryBus(),
        metrics=DetectionMetrics(CollectorRegistry()),
        config=DetectionConfig(),
    )
    timings, own_cpu, redis_cpu = [], [], []
    for tick in range(5):
        started, cpu, redis_before = (
            time.perf_counter(),
            time.process_time(),
            redis_cpu_s(await redis.info("cpu")),
        )
        await service.evaluate(datetime.now(UTC), tick_s=1000 + tick)  # a new tick: every service claimable
        timings.append(time.perf_counter() - started)
        own_cpu.append(time.process_time() - cpu)
        redis_cpu.append(redis_cpu_s(await redis.info("cpu")) - redis_before)
    # Memory in a run of its own: tracing allocations slows Python down several times.
    tracemalloc.start()
    await service.evaluate(datetime.now(UTC), tick_s=1005)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    await pool.close()
    print(f"evaluation of {len(series):,} series (baselines cached)")
    best = timings.index(min(timings))
    print(f"  {'time per evaluation (best of 5)':<40}{timings[best] * 1000:>8.0f} ms")
    print(f"  {'time per evaluation (median of 5)':<40}{sorted(timings)[2] * 1000:>8.0f} ms")
    print(f"  {'  of it, detector CPU':<40}{own_cpu[best] * 1000:>8.0f} ms")
    print(f"  {'  of it, Redis CPU':<40}{redis_cpu[best] * 1000:>8.0f} ms")
    print(f"  {'Python memory peak during it':<40}{peak / 2**20:>8.1f} MB")


async def run(args: argparse.Namespace) -> None:
    tune_gc_for_serving()  # as in the detector process: without it, collections were a fifth of an evaluation
    redis = create_redis(REDIS_URL)  # the client the services use
    prefix = f"aiops-bench-cost-{uuid4().hex[:8]}:"
    try:
        async with bench_platform() as platform:
            print(f"detection cost  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
            await window_path_cost(redis, prefix + "w:", args.spans, 512, args.series)
            series = await memory_per_series(redis, prefix + "m:", 1000, StoreTimes().history_s)
            await memory_per_series(redis, prefix + "m15:", 1000, 900)
            await evaluation_cost(redis, prefix + "m:", platform.database_url, series)
            for count in args.evaluate:
                # A minute of slots: more than an evaluation reads (35 s), less to fill.
                many = await memory_per_series(redis, prefix + f"e{count}:", count, 60)
                await evaluation_cost(redis, prefix + f"e{count}:", platform.database_url, many)
    finally:
        async for key in redis.scan_iter(match=f"{prefix}*", count=10_000):
            await redis.delete(key)
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--spans", type=int, default=200_000, help="spans through the window path (default 200,000)"
    )
    parser.add_argument(
        "--series", type=int, default=100, help="series those spans spread over (default 100)"
    )
    parser.add_argument(
        "--evaluate",
        type=int,
        nargs="*",
        default=[50_000],
        help="also time evaluations of this many series (default 50,000: one replica's target)",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
