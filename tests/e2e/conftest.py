from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx

from tests.support.processes import AiopsProcess, ServiceProcess
from tests.support.shop import ShopUrls, shop_process
from tests.support.waiting import eventually

# Short enough for a test; the default, 90 s, is what the benchmarks run with.
MIN_HISTORY_S = 20
# Detection that learns, evaluates and clears fast, so that a fault's whole story fits in a test.
FAST_DETECTION = {
    "AIOPS_MIN_HISTORY_S": str(MIN_HISTORY_S),
    "AIOPS_ROLLUP_INTERVAL_S": "2",
    "AIOPS_EVALUATE_INTERVAL_S": "1",
    "AIOPS_CLEAR_AFTER_S": "5",
}
# And incidents that rank, learn the graph and resolve fast.
FAST_INCIDENTS = FAST_DETECTION | {
    "AIOPS_RESOLVE_COOLDOWN_S": "5",
    "AIOPS_RANK_INTERVAL_S": "2",
    "AIOPS_GRAPH_INTERVAL_S": "2",
}


async def start_platform(
    processes: list[AiopsProcess], env: dict[str, str]
) -> tuple[ServiceProcess, ServiceProcess]:
    """Ingest and the detector, each its own process; returns (ingest, detector) once ready."""
    detector = ServiceProcess("detector", env).start()
    ingest = ServiceProcess("ingest", env).start()
    processes += [detector, ingest]
    await asyncio.gather(detector.wait_ready(), ingest.wait_ready())
    return ingest, detector


async def kill_the_writer_while_it_writes(
    processes: list[AiopsProcess],
    env: dict[str, str],
    detector: ServiceProcess,
    stored: Callable[[], Awaitable[int]],
    thresholds: tuple[int, ...],
) -> None:
    """SIGKILL the detector (the writer) once `stored` reaches each of `thresholds`, with no
    chance to finish or acknowledge anything, and start it again."""
    for threshold in thresholds:
        await eventually(stored, lambda n, t=threshold: n >= t, timeout_s=120, what="writing under way")
        detector.kill()
        detector = ServiceProcess("detector", env, log_name="detector-restarted").start()
        processes.append(detector)
        await detector.wait_ready()


async def start_incidents(processes: list[AiopsProcess], env: dict[str, str]) -> ServiceProcess:
    incidents = ServiceProcess("incidents", env).start()
    processes.append(incidents)
    await incidents.wait_ready()
    return incidents


def start_load(processes: list[AiopsProcess], frontend_url: str, rps: float) -> AiopsProcess:
    load = AiopsProcess(
        ["loadgen", "--rps", str(rps), "--duration", "0", "--url", frontend_url],
        {},
        ready_url=frontend_url,
        log_name="loadgen",
    ).start()
    processes.append(load)
    return load


async def learned_seconds(database_url: str, service: str, operation: str) -> float:
    """Seconds of the series' traffic the detector's rollups cover."""
    conn = await asyncpg.connect(database_url)
    try:
        value = await conn.fetchval(
            """
            SELECT extract(epoch FROM max(covered_until) - min(first_start)) FROM series_rollups
            WHERE service = $1 AND operation = $2
            """,
            service,
            operation,
        )
        return float(value or 0)
    finally:
        await conn.close()


async def stored_count(database_url: str, where: str = "true") -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM spans WHERE {where}"))
    finally:
        await conn.close()


async def start_shop(
    processes: list[AiopsProcess], ingest_url: str, *, two_payments: bool = False
) -> ShopUrls:
    """The demo shop (see `shop_process`), exporting every 500 ms; returns once it answers."""
    shop, urls = shop_process({"OTEL_BSP_SCHEDULE_DELAY": "500"}, ingest_url, two_payments=two_payments)
    processes.append(shop)
    await shop.wait_ready()
    return urls


async def ready_for_a_payment_fault(database_url: str, incidents_url: str) -> dict[str, Any]:
    """Waits until the payment series has learned its baseline, the service graph has the
    frontend -> payment edge, and no incident is open; returns the graph (`GET /aiops/services`).
    Several processes share a small machine here, so the fault goes in on a quiet platform (false
    alarms under normal load are measured by the benchmarks, over ten minutes)."""

    async def get(path: str, **params: str) -> Any:
        async with httpx.AsyncClient(base_url=f"{incidents_url}/aiops", timeout=10) as client:
            response = await client.get(path, params=params)
            response.raise_for_status()
            return response.json()

    await eventually(
        lambda: learned_seconds(database_url, "payment", "POST /payment"),
        lambda covered: covered >= MIN_HISTORY_S + 5,
        timeout_s=90,
        interval_s=1,
        what="the payment series has learned its baseline",
    )
    graph: dict[str, Any] = await eventually(
        lambda: get("/services"),
        lambda g: {(e["source"], e["target"]) for e in g["edges"]} >= {("frontend", "payment")},
        timeout_s=30,
        interval_s=0.5,
        what="the service graph learned from the traces",
    )
    await eventually(
        lambda: get("/incidents", status="open"),
        lambda page: page["items"] == [],
        timeout_s=60,
        interval_s=1,
        what="no open incident before the fault",
    )
    return graph
