"""Root cause at the right grain, end to end: the platform and the demo shop (payment as two
instances, payment-1 and payment-2) as separate processes on the real RabbitMQ, PostgreSQL and
Redis, and `aiops chaos` injecting its db-slow and one-bad-instance scenarios and scoring the
incidents. The top root cause must be inventory's database, which sends no spans and is known only
from inventory's client spans, and then payment's one bad instance, not payment as a whole."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx

from aiops_shop.chaos.scenarios import PAYMENT_2, STOCK_DB_NODE
from aiops_shop.chaos.schedule import time_for_all
from tests.e2e.conftest import (
    FAST_INCIDENTS,
    MIN_HISTORY_S,
    learned_seconds,
    ready_for_a_payment_fault,
    start_incidents,
    start_load,
    start_platform,
    start_shop,
)
from tests.support.processes import AIOPS, AiopsProcess
from tests.support.shop import ShopUrls
from tests.support.waiting import eventually

SCENARIOS = ("db-slow", "one-bad-instance")
FAULT_S, GAP_S = 20.0, 30.0


async def run_chaos(args: list[str], timeout_s: float) -> None:
    chaos = await asyncio.create_subprocess_exec(AIOPS, "chaos", *args, env=dict(os.environ))
    try:
        assert await asyncio.wait_for(chaos.wait(), timeout_s) == 0, "aiops chaos failed"
    finally:
        if chaos.returncode is None:
            chaos.kill()
            await chaos.wait()


async def test_chaos_names_the_database_nobody_instruments_and_the_one_bad_instance(
    processes: list[AiopsProcess], platform_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    env = platform_env | FAST_INCIDENTS
    ingest, _ = await start_platform(processes, env)
    incidents = await start_incidents(processes, env)
    shop = await start_shop(processes, ingest.url, two_payments=True)
    start_load(processes, shop.frontend, 20)

    await ready_for_a_payment_fault(database_url, incidents.url)
    await eventually(
        lambda: learned_seconds(database_url, STOCK_DB_NODE, "SELECT stock"),
        lambda covered: covered >= MIN_HISTORY_S + 5,
        timeout_s=60,
        interval_s=1,
        what="the series of stock-db, from inventory's calls to it, has learned its baseline",
    )
    api = httpx.AsyncClient(base_url=f"{incidents.url}/aiops", timeout=10)

    async def get(path: str) -> Any:
        response = await api.get(path)
        response.raise_for_status()
        return response.json()

    async with api:
        graph = await eventually(
            lambda: get("/services"),
            lambda g: any(edge["target"] == STOCK_DB_NODE for edge in g["edges"]),
            timeout_s=30,
            interval_s=1,
            what="stock-db on the service graph",
        )
        nodes = {node["service"]: node for node in graph["services"]}
        assert nodes[STOCK_DB_NODE]["kind"] == "database"
        scorecard = await chaos_scorecard(incidents.url, shop, tmp_path)

        faults = {fault["scenario"]: fault for fault in scorecard["faults"]}
        assert set(faults) == set(SCENARIOS)
        for name, fault in faults.items():
            assert fault["incidents"], f"{name} opened no incident"
            top = fault["incidents"][0]["top_candidates"]
            assert fault["ac1"], f"{name}: the top root cause is not {fault['truth']}: {top}"

        # What the on-call engineer reads: the database, typed, with the services that saw it ...
        db_slow = await get(f"/incidents/{faults['db-slow']['incidents'][0]['incident_id']}")
        cause = db_slow["root_cause"]
        assert (cause["service"], cause["node_kind"], cause["kind"]) == (STOCK_DB_NODE, "database", "latency")
        assert "inventory" in cause["evidence"]["seen_from"]
        # ... and the one instance, against its sibling.
        one_bad = await get(f"/incidents/{faults['one-bad-instance']['incidents'][0]['incident_id']}")
        cause = one_bad["root_cause"]
        assert (cause["service"], cause["instance"]) == ("payment", PAYMENT_2)
        breakdown = {row["instance"]: row for row in cause["evidence"]["instances"]}
        assert set(breakdown) == {"payment-1", PAYMENT_2}
        assert breakdown[PAYMENT_2]["outlier"]
        assert not breakdown["payment-1"]["outlier"]


async def chaos_scorecard(api_url: str, shop: ShopUrls, tmp_path: Path) -> dict[str, Any]:
    """`aiops chaos` runs the two scenarios, one after the other, and answers its scorecard."""
    scorecard_path = tmp_path / "chaos.json"
    duration_s = time_for_all(len(SCENARIOS), quiet_s=0, fault_s=(FAULT_S, FAULT_S), gap_s=GAP_S)
    await run_chaos(
        [
            *("--scenarios", ",".join(SCENARIOS), "--seed", "1", "--quiet", "0"),
            *("--fault-duration", f"{FAULT_S:g}-{FAULT_S:g}", "--gap", f"{GAP_S:g}"),
            *("--duration", f"{duration_s:g}", "--api-url", api_url),
            *(f"--frontend-url={shop.frontend}", f"--payment-url={shop.payments}"),
            *(f"--inventory-url={shop.inventory}", "--json", str(scorecard_path)),
        ],
        timeout_s=duration_s + 120,
    )

    return dict(json.loads(scorecard_path.read_text()))
