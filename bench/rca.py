"""Root-cause benchmark: the whole platform as separate processes on the real RabbitMQ, PostgreSQL
and Redis (a database, vhost and key prefix of its own), the demo shop (payment as two instances)
under 10 checkouts/s with random arrivals, then `aiops chaos` injecting every fault scenario on a
seeded schedule and scoring the incidents from the incidents API: MTTD, AC@1 and AC@3 of the root
cause, one incident per fault, auto-resolve, false alarms, each against its target.

The chaos run starts once the platform has learned: the rollups that baselines come from cover
two minutes of every shop series (a series can alarm after 90 s).

    make bench-rca                                 # seed 7, 10 quiet minutes, all 11 scenarios (~45 min)
    .venv/bin/python bench/rca.py --quick          # 1 quiet minute, 3 scenarios (~13 min)
    .venv/bin/python bench/rca.py --seed 3 --quiet 5m --duration 40m
    .venv/bin/python bench/rca.py --quiet 60 --scenarios payment-errors-100,inventory-latency-200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiops_shop.chaos.command import parse_duration
from aiops_shop.chaos.scenarios import catalogue
from aiops_shop.chaos.schedule import time_for_all
from bench.live import learned, start_loadgen
from bench.sandbox import bench_platform
from tests.support.processes import AIOPS, ARTIFACTS, AiopsProcess, ServiceProcess
from tests.support.shop import shop_process
from tests.support.waiting import eventually

RPS = 10
LEARNED_S = 120  # of every series in the rollups: past the detector's 90 s, with a rollup to spare
FAULT_S = (45.0, 75.0)  # aiops chaos's defaults, which the chaos run keeps
GAP_S = 100.0
# One fault per service, the cascade among them: the hardest root cause to get right.
QUICK_SCENARIOS = ("payment-errors-100", "frontend-errors-50", "inventory-cascade")


def chaos_command(args: argparse.Namespace, api_url: str, shop_urls: dict[str, str]) -> list[str]:
    quiet = args.quiet or ("60" if args.quick else "600")
    if args.scenarios:
        scenarios = tuple(name.strip() for name in args.scenarios.split(",") if name.strip())
    else:
        scenarios = QUICK_SCENARIOS if args.quick else tuple(s.name for s in catalogue())
    enough_s = time_for_all(len(scenarios), quiet_s=parse_duration(quiet), fault_s=FAULT_S, gap_s=GAP_S)
    duration = args.duration or f"{enough_s:g}"
    command = [AIOPS, "chaos", "--seed", str(args.seed), "--quiet", quiet, "--duration", duration]
    command += ["--api-url", api_url, *(f"--{name}-url={url}" for name, url in shop_urls.items())]
    if args.quick or args.scenarios:
        command += ["--scenarios", ",".join(scenarios)]
    return [*command, "--json", str(args.json or ARTIFACTS / f"bench-rca-seed{args.seed}.json")]


async def run_chaos(command: list[str], env: dict[str, str]) -> None:
    """Runs it with its output streaming to ours, and lets it finish: it resets the shop on its way
    out, so the shop must outlive it."""
    chaos = await asyncio.create_subprocess_exec(*command, env=os.environ | env)
    try:
        await chaos.wait()
    finally:
        if chaos.returncode is None:
            # A Ctrl-C reached it too (one process group): give it time to reset the shop, else
            # SIGTERM, which it also answers by resetting.
            try:
                await asyncio.wait_for(chaos.wait(), 30)
            except TimeoutError:
                chaos.terminate()
                await chaos.wait()


async def run(args: argparse.Namespace) -> None:
    print("$ " + shlex.join([sys.executable, *sys.argv]), flush=True)
    async with bench_platform(log_level="INFO") as platform:
        env = platform.env
        detector = ServiceProcess("detector", env, log_name="bench-detector").start()
        ingest = ServiceProcess("ingest", env, log_name="bench-ingest").start()
        incidents = ServiceProcess("incidents", env, log_name="bench-incidents").start()
        # Payment as two instances, as `aiops up` runs it: one-bad-instance faults one of them.
        shop, urls = shop_process(env, ingest.url, two_payments=True, log_name="bench-shop")
        processes: list[AiopsProcess] = [detector, ingest, incidents, shop]
        pool = await asyncpg.create_pool(platform.database_url, min_size=1, max_size=2)
        try:
            await asyncio.gather(*(p.wait_ready() for p in processes))
            processes.append(start_loadgen(env, urls.frontend, RPS))
            print(f"load {RPS} checkouts/s; learning ({LEARNED_S} s of every shop series) ...", flush=True)
            await eventually(
                lambda: learned(pool, LEARNED_S), timeout_s=600, interval_s=2, what="baselines learned"
            )
            shop_urls = {"frontend": urls.frontend, "payment": urls.payments, "inventory": urls.inventory}
            command = chaos_command(args, incidents.url, shop_urls)
            print("$ " + shlex.join(command), flush=True)
            await run_chaos(command, env)
        finally:
            for process in reversed(processes):
                process.stop()
            await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the chaos schedule (default 7)")
    parser.add_argument(
        "--quiet", help="normal load watched before the first fault (default 600 s, quick 60 s)"
    )
    parser.add_argument("--duration", help="length of the chaos run (default: enough for every scenario)")
    parser.add_argument(
        "--quick", action="store_true", help=f"1 quiet minute, only {', '.join(QUICK_SCENARIOS)}"
    )
    parser.add_argument("--scenarios", help="comma-separated scenarios (default: all, or the quick ones)")
    parser.add_argument(
        "--json", type=Path, help="where the scorecard goes (default artifacts/bench-rca-seedN.json)"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
