"""Lasting-fault benchmark: faults that are there from the start, that last longer than the
baseline's history, and that come back right after recovery. The platform runs as separate
processes (detector, ingest, incidents) on the real RabbitMQ, PostgreSQL and Redis, with the
demo shop under 10 checkouts/s of random arrivals, and a fresh database, vhost and key prefix for
each platform started:

1. **fault at start**: payment fails 50% of its requests before the load starts, so the platform
   first sees a failing system (default settings; timed from the first checkout); held 3 minutes,
   then reset;
2. **long fault**: with `AIOPS_BASELINE_HISTORY_MINUTES=4` and as soon as the detector judges
   every shop series against its baseline (`series_learning`: the default 90 s), payment fails
   40% of its requests, or answers 300 ms slower (a platform of its own for each), for 8
   minutes, twice the history; then reset;
3. **repeat**: as soon as the long fault's incident resolved, the same fault again for 2 minutes.

Prints one table, a row per case: MTTD from the injection to the first anomaly of the fault's kind
on payment and to the incident opening (or reopening); whether the incident stayed open for the
whole fault (not resolved, no second opening, payment's anomaly never cleared: else what happened,
in seconds from the injection); the time from the reset to the last of the fault's incidents
resolved; the root cause named by the first of them, at the end.

    .venv/bin/python bench/detect_lasting.py                        # all cases (~30 min)
    .venv/bin/python bench/detect_lasting.py --long-faults errors --long-minutes 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.live import FRONTEND, PAYMENT, SERIES, start_loadgen
from bench.sandbox import bench_platform
from tests.support.processes import AiopsProcess, ServiceProcess
from tests.support.shop import ShopUrls, shop_process
from tests.support.waiting import eventually

RESOLVE_TIMEOUT_S = 300
OPENINGS = ("opened", "reopened")


@dataclass(frozen=True)
class Fault:
    name: str
    simulate: str  # the shop's /simulate/{simulate} route, with `params`
    params: dict[str, float]
    kind: str  # the anomaly kind it should raise on payment


AT_START = Fault("payment 50% errors", "error", {"rate": 0.5}, "error_ratio")
LONG_FAULTS = {
    "errors": Fault("payment 40% errors", "error", {"rate": 0.4}, "error_ratio"),
    "latency": Fault("payment +300 ms", "latency", {"ms": 300}, "latency"),
}


@dataclass(frozen=True)
class Outcome:
    """One row of the table."""

    case: str
    fault: Fault
    mttd_anomaly_s: float | None
    mttd_incident_s: float | None
    stayed_open: str
    resolved: str  # from the reset, or "before reset"
    root_cause: str
    started_s: float | None = None  # the anomaly's started_at, from the injection


@dataclass
class Platform:
    pool: asyncpg.Pool
    api: httpx.AsyncClient  # the incidents API, under /aiops
    shop: ShopUrls
    env: dict[str, str]
    processes: list[AiopsProcess] = field(default_factory=list)

    def start_load(self, rps: float) -> None:
        self.processes.append(start_loadgen(self.env, self.shop.frontend, rps))

    async def simulate(self, route: str, **params: float) -> datetime:
        """A fault (or the reset) on payment; returns when it took effect."""
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(f"{self.shop.payment}/simulate/{route}", params=params)
        response.raise_for_status()
        return datetime.now(UTC)

    async def inject(self, fault: Fault) -> datetime:
        return await self.simulate(fault.simulate, **fault.params)

    async def reset(self) -> datetime:
        return await self.simulate("reset")

    async def get(self, path: str, **params: str | int) -> Any:
        response = await self.api.get(path, params=params)
        response.raise_for_status()
        return response.json()


@asynccontextmanager
async def running_platform(detector_env: dict[str, str]) -> AsyncIterator[Platform]:
    """The detector (with `detector_env` on top of the defaults), ingest, incidents and the shop,
    each a process, on a sandbox of their own."""
    async with bench_platform(log_level="INFO") as sandbox:
        env = sandbox.env
        detector = ServiceProcess("detector", env | detector_env, log_name="bench-detector").start()
        ingest = ServiceProcess("ingest", env, log_name="bench-ingest").start()
        incidents = ServiceProcess("incidents", env, log_name="bench-incidents").start()
        shop, urls = shop_process(env, ingest.url, log_name="bench-shop")
        processes: list[AiopsProcess] = [detector, ingest, incidents, shop]
        pool = await asyncpg.create_pool(sandbox.database_url, min_size=1, max_size=2)
        try:
            await asyncio.gather(*(p.wait_ready() for p in processes))
            async with httpx.AsyncClient(base_url=f"{incidents.url}/aiops", timeout=10) as api:
                platform = Platform(pool, api, urls, env)
                try:
                    yield platform
                finally:
                    processes += platform.processes
        finally:
            for process in reversed(processes):
                process.stop()
            await pool.close()


# --- waiting ---------------------------------------------------------------------------------


async def first_request(pool: asyncpg.Pool) -> datetime:
    """When the first checkout started, once its span is stored."""
    started: datetime = await eventually(
        lambda: pool.fetchval(
            "SELECT min(start_time) FROM spans WHERE service = $1 AND operation = $2", *FRONTEND
        ),
        lambda at: at is not None,
        timeout_s=60,
        interval_s=0.5,
        what="the first checkout stored",
    )
    return started


async def every_series_learned(pool: asyncpg.Pool) -> bool:
    """Whether the detector judges every measure of every shop series against its baseline."""
    rows = await pool.fetch("SELECT service, operation, history_s, min_history_s FROM series_learning")
    learned = {
        (row["service"], row["operation"])
        for row in rows
        if all(s >= row["min_history_s"] for s in json.loads(row["history_s"]).values())
    }
    return learned >= set(SERIES)


async def learned_and_quiet(platform: Platform) -> None:
    await eventually(
        lambda: every_series_learned(platform.pool),
        lambda learned: learned,
        timeout_s=600,
        interval_s=2,
        what="every shop series learned",
    )
    await eventually(
        lambda: platform.pool.fetchval("SELECT count(*) FROM anomalies WHERE cleared_at IS NULL"),
        lambda n: n == 0,
        timeout_s=180,
        interval_s=1,
        what="no open anomaly before the fault",
    )
    await recovered(platform)


async def recovered(platform: Platform) -> bool:
    """Waits until no incident is open; False when one still is after RESOLVE_TIMEOUT_S."""
    deadline = time.monotonic() + RESOLVE_TIMEOUT_S
    while time.monotonic() < deadline:
        if not (await platform.get("/incidents", status="open"))["items"]:
            return True
        await asyncio.sleep(1)
    return False


async def sleep_until(start: datetime, seconds: float) -> None:
    await asyncio.sleep(max(0.0, (start + timedelta(seconds=seconds) - datetime.now(UTC)).total_seconds()))


# --- measuring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    at: datetime
    incident: str
    type: str


async def incident_events(platform: Platform) -> tuple[list[Event], dict[str, Any]]:
    """Every incident's timeline, merged in time order, and each incident's detail by id."""
    details = {}
    for item in (await platform.get("/incidents", limit=200))["items"]:
        details[item["id"]] = await platform.get(f"/incidents/{item['id']}")
    events = [
        Event(datetime.fromisoformat(e["at"]), incident_id, e["type"])
        for incident_id, detail in details.items()
        for e in detail["timeline"]
    ]
    return sorted(events, key=lambda e: e.at), details


async def payment_anomalies(pool: asyncpg.Pool, kind: str, since: datetime) -> list[asyncpg.Record]:
    return await pool.fetch(
        """
        SELECT started_at, detected_at, cleared_at FROM anomalies
        WHERE service = $1 AND operation = $2 AND kind = $3 AND detected_at >= $4 ORDER BY detected_at
        """,
        *PAYMENT,
        kind,
        since,
    )


def after(start: datetime, at: datetime) -> str:
    return f"+{(at - start).total_seconds():.0f} s"


def disruptions(
    start: datetime,
    reset: datetime,
    openings: list[Event],
    events: list[Event],
    anomaly: asyncpg.Record | None,
) -> list[str]:
    """What broke the incident's story while the fault was on, in time order: an opening after the
    first, a resolve, payment's anomaly clearing (or never coming)."""
    found = [(e.at, f"{e.type} {e.incident[:8]}") for e in openings[1:]]
    found += [
        (e.at, f"resolved {e.incident[:8]}")
        for e in events
        if e.type == "resolved" and openings[0].at < e.at < reset
    ]
    if anomaly is None:
        found.append((reset, "no anomaly on payment"))
    elif anomaly["cleared_at"] is not None and anomaly["cleared_at"] < reset:
        found.append((anomaly["cleared_at"], "payment's anomaly cleared"))
    return [f"{text} {after(start, at)}" for at, text in sorted(found)]


def resolve_time(events: list[Event], incidents: set[str], reset: datetime, recovered: bool) -> str:
    """From the reset until the last of the fault's incidents resolved."""
    if not recovered:
        return f"not in {RESOLVE_TIMEOUT_S} s"
    resolves = [e.at for e in events if e.incident in incidents and e.type == "resolved" and e.at >= reset]
    return shown((max(resolves) - reset).total_seconds()) if resolves else "before reset"


async def measure(
    platform: Platform, case: str, fault: Fault, fault_on: tuple[datetime, datetime], recovered: bool
) -> Outcome:
    """The row of a fault on from `fault_on[0]` until its reset at `fault_on[1]`, read once the
    platform recovered (or gave up)."""
    start, reset = fault_on
    anomalies = await payment_anomalies(platform.pool, fault.kind, start)
    anomaly = anomalies[0] if anomalies and anomalies[0]["detected_at"] < reset else None
    events, details = await incident_events(platform)
    openings = [e for e in events if e.type in OPENINGS and start <= e.at <= reset]
    started_s = None if anomaly is None else (anomaly["started_at"] - start).total_seconds()
    if not openings:
        return Outcome(case, fault, seconds(start, anomaly), None, "no: no incident", "-", "-", started_s)
    problems = disruptions(start, reset, openings, events, anomaly)
    top = details[openings[0].incident]["root_cause"]
    return Outcome(
        case,
        fault,
        seconds(start, anomaly),
        (openings[0].at - start).total_seconds(),
        "no: " + "; ".join(problems) if problems else "yes",
        resolve_time(events, {e.incident for e in openings}, reset, recovered),
        f"{top['service']} {top['operation']} {top['kind']}" if top else "-",
        started_s,
    )


def seconds(start: datetime, anomaly: asyncpg.Record | None) -> float | None:
    return None if anomaly is None else (anomaly["detected_at"] - start).total_seconds()


# --- the cases -------------------------------------------------------------------------------


async def hold_and_recover(
    platform: Platform, case: str, fault: Fault, start: datetime, hold_s: float
) -> Outcome:
    """The fault stays on until `hold_s` after `start`; then reset, and wait for the platform to
    resolve what it opened."""
    await sleep_until(start, hold_s)
    reset = await platform.reset()
    outcome = await measure(platform, case, fault, (start, reset), await recovered(platform))
    print(f"  {case}, {fault.name}: {describe(outcome)}", flush=True)
    return outcome


async def fault_at_start(args: argparse.Namespace) -> list[Outcome]:
    print(f"fault at start: {AT_START.name} before the first checkout ...", flush=True)
    async with running_platform({}) as platform:
        await platform.inject(AT_START)
        platform.start_load(args.rps)
        start = await first_request(platform.pool)
        return [await hold_and_recover(platform, "fault at start", AT_START, start, args.start_hold_s)]


async def long_fault_and_repeat(args: argparse.Namespace, fault: Fault) -> list[Outcome]:
    history = {"AIOPS_BASELINE_HISTORY_MINUTES": str(args.history_minutes)}
    print(f"long fault: {fault.name}, history {args.history_minutes} min; learning ...", flush=True)
    async with running_platform(history) as platform:
        platform.start_load(args.rps)
        await learned_and_quiet(platform)
        long_s = args.long_minutes * 60
        first = await hold_and_recover(platform, "long fault", fault, await platform.inject(fault), long_s)
        again = await hold_and_recover(platform, "repeat", fault, await platform.inject(fault), args.repeat_s)
        return [first, again]


# --- the table -------------------------------------------------------------------------------


def shown(value: float | None, missing: str = "missed") -> str:
    return missing if value is None else f"{value:.1f} s"


def describe(outcome: Outcome) -> str:
    started = "" if outcome.started_s is None else f" (started {outcome.started_s:+.1f} s)"
    return (
        f"anomaly {shown(outcome.mttd_anomaly_s)}{started}, incident {shown(outcome.mttd_incident_s)}, "
        f"stayed open: {outcome.stayed_open}, reset->resolved {outcome.resolved}, "
        f"root cause {outcome.root_cause}"
    )


COLUMNS = (
    ("case", 16),
    ("fault", 20),
    ("MTTD anomaly", 14),
    ("MTTD incident", 15),
    ("reset->resolved", 17),
    ("root cause", 36),
)


def table_row(cells: Iterable[str]) -> str:
    return "".join(f"{cell:<{width}}" for cell, (_, width) in zip(cells, COLUMNS, strict=True))


def report(args: argparse.Namespace, outcomes: list[Outcome]) -> None:
    print()
    print(
        f"lasting faults  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  load {args.rps}/s  "
        f"long fault {args.long_minutes:g} min with {args.history_minutes} min of history"
    )
    print(table_row(title for title, _ in COLUMNS) + "stayed open")
    for o in outcomes:
        mttd = (shown(o.mttd_anomaly_s), shown(o.mttd_incident_s))
        print(table_row((o.case, o.fault.name, *mttd, o.resolved, o.root_cause)) + o.stayed_open)


async def run(args: argparse.Namespace) -> None:
    print("$ " + shlex.join([sys.executable, *sys.argv]), flush=True)
    outcomes: list[Outcome] = []
    if args.start_hold_s > 0:
        outcomes += await fault_at_start(args)
    for fault in args.long_faults:
        outcomes += await long_fault_and_repeat(args, fault)
    report(args, outcomes)


def long_faults(names: str) -> list[Fault]:
    try:
        return [LONG_FAULTS[name.strip()] for name in names.split(",") if name.strip()]
    except KeyError as unknown:
        raise argparse.ArgumentTypeError(f"no long fault {unknown}") from None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rps", type=float, default=10, help="checkouts per second (default 10)")
    parser.add_argument(
        "--start-hold-s",
        type=float,
        default=180,
        help="seconds the fault at start lasts from the first checkout (default 180; 0 skips the case)",
    )
    parser.add_argument(
        "--long-faults",
        type=long_faults,
        default="errors,latency",
        help=f"comma-separated long faults, of {', '.join(LONG_FAULTS)} (default both; empty: none)",
    )
    parser.add_argument(
        "--history-minutes",
        type=int,
        default=4,
        help="the long faults' AIOPS_BASELINE_HISTORY_MINUTES (default 4)",
    )
    parser.add_argument(
        "--long-minutes", type=float, default=8, help="minutes a long fault lasts (default 8)"
    )
    parser.add_argument(
        "--repeat-s", type=float, default=120, help="seconds the repeated fault lasts (default 120)"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
