"""Live detection benchmark: the platform as separate processes on the real RabbitMQ, PostgreSQL
and Redis, the demo shop under load from the load generator, faults injected in turn.

Prints two tables:

- **live faults**: for each fault, the time from injection to the first anomaly on the faulted
  series (MTTD; median over the runs) and every series flagged while it lasted;
- **false alarms**: anomalies opened during normal load with random arrivals and a rate that
  swings slowly by 30% (target: none).

The detector runs with its defaults (a series learns for 90 s before it can alarm).

    .venv/bin/python bench/detect_live.py                     # 3 runs, 10 quiet minutes (~35 min)
    .venv/bin/python bench/detect_live.py --runs 1 --quiet-minutes 0
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.live import FRONTEND, INVENTORY, PAYMENT, learned, start_loadgen
from bench.sandbox import bench_platform
from tests.support.processes import AiopsProcess, ServiceProcess
from tests.support.shop import shop_process
from tests.support.waiting import eventually

DETECT_TIMEOUT_S = 60
HOLD_S = 10


@dataclass
class Shop:
    frontend: str
    payment: str
    inventory: str
    env: dict[str, str]
    rps: float
    loadgen: AiopsProcess | None = None

    def start_load(self, rps: float, *extra: str) -> datetime:
        """A new load generator; the previous one is stopped only after it started, so that
        switching never leaves a gap in the traffic. Returns when the old rate ended."""
        process = start_loadgen(self.env, self.frontend, rps, *extra)
        previous, self.loadgen = self.loadgen, process
        if previous is not None:
            time.sleep(1.0)  # the new generator's interpreter start-up
            previous.stop()
        return datetime.now(UTC)


@dataclass(frozen=True)
class Fault:
    name: str
    series: tuple[str, str]
    # Each returns when the fault took effect (or ended).
    inject: Callable[[Shop, httpx.AsyncClient], Awaitable[datetime]]
    reset: Callable[[Shop, httpx.AsyncClient], Awaitable[datetime]]


def simulate(
    target: str, kind: str, **params: float
) -> Callable[[Shop, httpx.AsyncClient], Awaitable[datetime]]:
    async def call(shop: Shop, client: httpx.AsyncClient) -> datetime:
        url = getattr(shop, target)
        sent = datetime.now(UTC)
        (await client.post(f"{url}/simulate/{kind}", params=params)).raise_for_status()
        return sent

    return call


async def drop_load(shop: Shop, client: httpx.AsyncClient) -> datetime:
    return await asyncio.to_thread(shop.start_load, shop.rps / 10)


async def restore_load(shop: Shop, client: httpx.AsyncClient) -> datetime:
    return await asyncio.to_thread(shop.start_load, shop.rps)


FAULTS = (
    Fault(
        "payment 100% errors", PAYMENT, simulate("payment", "error", rate=1.0), simulate("payment", "reset")
    ),
    Fault(
        "payment 20% errors", PAYMENT, simulate("payment", "error", rate=0.2), simulate("payment", "reset")
    ),
    Fault("payment +300 ms", PAYMENT, simulate("payment", "latency", ms=300), simulate("payment", "reset")),
    Fault(
        "inventory +200 ms",
        INVENTORY,
        simulate("inventory", "latency", ms=200),
        simulate("inventory", "reset"),
    ),
    Fault(
        "inventory 50% errors",
        INVENTORY,
        simulate("inventory", "error", rate=0.5),
        simulate("inventory", "reset"),
    ),
    Fault("load drops to 10%", FRONTEND, drop_load, restore_load),
)


@dataclass
class FaultResult:
    mttd_s: list[float] = field(default_factory=list)
    missed: int = 0
    flagged: set[str] = field(default_factory=set)


async def anomalies_since(pool: asyncpg.Pool, since: datetime) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT service, operation, kind, detected_at, cleared_at FROM anomalies WHERE detected_at >= $1 "
        "ORDER BY detected_at",
        since,
    )


async def run_fault(
    pool: asyncpg.Pool, shop: Shop, client: httpx.AsyncClient, fault: Fault
) -> tuple[float | None, set[str]]:
    await eventually(
        lambda: pool.fetchval("SELECT count(*) FROM anomalies WHERE cleared_at IS NULL"),
        lambda n: n == 0,
        timeout_s=180,
        interval_s=1,
        what="every anomaly cleared before the next fault",
    )
    injected = await fault.inject(shop, client)
    mttd = None
    deadline = time.monotonic() + DETECT_TIMEOUT_S
    while time.monotonic() < deadline:
        rows = await anomalies_since(pool, injected)
        hits = [r for r in rows if (r["service"], r["operation"]) == fault.series]
        if hits:
            mttd = (hits[0]["detected_at"] - injected).total_seconds()
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(HOLD_S)  # the measured period: which other series get flagged meanwhile
    rows = await anomalies_since(pool, injected)
    await fault.reset(shop, client)
    return mttd, {f"{r['service']} {r['operation']} ({r['kind']})" for r in rows}


async def run(args: argparse.Namespace) -> None:
    async with bench_platform(log_level="INFO") as platform:
        env = platform.env | {"AIOPS_MULTIVARIATE_ENABLED": "true" if args.multivariate else "false"}
        detector = ServiceProcess("detector", env, log_name="bench-detector").start()
        ingest = ServiceProcess("ingest", env, log_name="bench-ingest").start()
        shop_app, urls = shop_process(env, ingest.url, log_name="bench-shop")
        processes: list[AiopsProcess] = [detector, ingest, shop_app]
        shop = Shop(urls.frontend, urls.payment, urls.inventory, env=env, rps=args.rps)
        pool = await asyncpg.create_pool(platform.database_url, min_size=1, max_size=2)
        try:
            await asyncio.gather(*(p.wait_ready() for p in processes))
            swing = ["--swing", "0.3", "--swing-period", "600"] if args.quiet_minutes else []
            shop.start_load(args.rps, *swing)
            print(f"load {args.rps} checkouts/s; learning (at least 90 s of every series) ...", flush=True)
            await eventually(
                lambda: learned(pool, 120), timeout_s=600, interval_s=2, what="baselines learned"
            )
            quiet = None
            if args.quiet_minutes:
                print(f"normal load for {args.quiet_minutes} minutes ...", flush=True)
                started = datetime.now(UTC)
                await asyncio.sleep(args.quiet_minutes * 60)  # the measured period
                quiet = await anomalies_since(pool, started)
                shop.start_load(args.rps)
            results = {fault.name: FaultResult() for fault in FAULTS}
            async with httpx.AsyncClient(timeout=10) as client:
                for run_no in range(1, args.runs + 1):
                    for fault in FAULTS:
                        mttd, flagged = await run_fault(pool, shop, client, fault)
                        result = results[fault.name]
                        if mttd is None:
                            result.missed += 1
                        else:
                            result.mttd_s.append(mttd)
                        result.flagged |= flagged
                        shown = "missed" if mttd is None else f"{mttd:.1f} s"
                        print(f"  run {run_no}  {fault.name:<22} {shown}", flush=True)
            report(args, results, quiet)
        finally:
            if shop.loadgen is not None:
                shop.loadgen.stop()
            for process in reversed(processes):
                process.stop()
            await pool.close()


def report(
    args: argparse.Namespace, results: dict[str, FaultResult], quiet: list[asyncpg.Record] | None
) -> None:
    print()
    model = "  with the IsolationForest" if args.multivariate else ""
    print(f"live faults  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  load {args.rps}/s  runs {args.runs}{model}")
    print(f"{'fault':<24}{'faulted series':<26}{'MTTD median':>12}{'runs (s)':>22}  flagged series")
    for fault in FAULTS:
        result = results[fault.name]
        median = f"{statistics.median(result.mttd_s):.1f} s" if result.mttd_s else "-"
        runs = ", ".join(f"{m:.1f}" for m in result.mttd_s) + (
            f" +{result.missed} missed" if result.missed else ""
        )
        print(
            f"{fault.name:<24}{' '.join(fault.series):<26}{median:>12}{runs:>22}  "
            + "; ".join(sorted(result.flagged))
        )
    if quiet is not None:
        print()
        print(f"false alarms: {len(quiet)} anomalies in {args.quiet_minutes} minutes of normal load")
        for row in quiet:
            print(f"  {row['detected_at']:%H:%M:%S} {row['service']} {row['operation']} {row['kind']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rps", type=float, default=10, help="checkouts per second (default 10)")
    parser.add_argument("--runs", type=int, default=3, help="times each fault is injected (default 3)")
    parser.add_argument("--multivariate", action="store_true", help="enable the per-service IsolationForest")
    parser.add_argument("--quiet-minutes", type=float, default=10, help="minutes of normal load (default 10)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
