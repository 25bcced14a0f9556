"""The demo shop as separate processes on the real RabbitMQ and PostgreSQL: traced through the
real OpenTelemetry SDK, every span it exported is stored exactly once, and injected faults
change what its clients see."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import httpx

from aiops_shop.loadgen import LoadGenerator, LoadSummary, RateProfile
from tests.e2e.conftest import start_platform, start_shop, stored_count
from tests.support.processes import AIOPS, AiopsProcess
from tests.support.waiting import eventually

SHOP_SERVICES = "service IN ('frontend', 'payment', 'inventory')"


async def run_loadgen(frontend_url: str, rps: int, duration_s: int) -> LoadSummary:
    """The load generator as its own process, as an operator would run it."""
    process = await asyncio.create_subprocess_exec(
        AIOPS,
        "loadgen",
        "--rps",
        str(rps),
        "--duration",
        str(duration_s),
        "--url",
        frontend_url,
        "--json",
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), duration_s + 60)
    assert process.returncode == 0
    return LoadSummary(**json.loads(stdout.decode().strip().splitlines()[-1]))


async def test_every_span_the_shop_exported_is_stored_exactly_once(
    processes: list[AiopsProcess], platform_env: dict[str, str], database_url: str
) -> None:
    ingest, _ = await start_platform(processes, platform_env)
    frontend_url = (await start_shop(processes, ingest.url)).frontend
    summary = await run_loadgen(frontend_url, rps=25, duration_s=8)
    assert summary.sent >= 150
    assert summary.ok > 0.9 * summary.sent

    # On SIGTERM the shop flushes its exporters and logs what each exported over its life.
    shop = processes[-1]
    assert shop.terminate() == 0
    exports = [r for r in shop.json_logs() if r.get("message") == "span export finished"]
    assert {r["service_name"] for r in exports} == {"frontend", "payment", "inventory"}
    assert all(r["spans_failed"] == 0 for r in exports)
    exported = sum(int(str(r["spans_exported"])) for r in exports)
    # per checkout: frontend server + 2 client spans, payment server, inventory server
    assert exported >= 5 * summary.ok

    stored = await eventually(
        lambda: stored_count(database_url, SHOP_SERVICES),
        lambda n: n >= exported,
        timeout_s=60,
        what=f"{exported} shop spans stored",
    )
    assert stored == exported
    assert (
        await stored_count(
            database_url,
            f"{SHOP_SERVICES} AND span_id IN "
            "(SELECT span_id FROM spans GROUP BY span_id HAVING count(*) > 1)",
        )
        == 0
    )

    conn = await asyncpg.connect(database_url)
    try:
        # Context propagates: payment's server spans are children of frontend's client spans.
        linked = await conn.fetchval(
            """
            SELECT count(*) FROM spans child JOIN spans parent
              ON child.parent_span_id = parent.span_id AND child.trace_id = parent.trace_id
            WHERE child.service = 'payment' AND child.kind = 'server'
              AND parent.service = 'frontend' AND parent.kind = 'client'
              AND parent.operation = 'POST /payment'
            """
        )
        operations = {
            (r["service"], r["operation"])
            for r in await conn.fetch("SELECT DISTINCT service, operation FROM spans WHERE kind = 'server'")
        }
    finally:
        await conn.close()
    assert linked >= summary.ok
    assert operations >= {
        ("frontend", "POST /checkout"),
        ("payment", "POST /payment"),
        ("inventory", "GET /inventory/{sku}"),
    }


async def test_injected_faults_change_what_the_shop_answers(
    processes: list[AiopsProcess], platform_env: dict[str, str]
) -> None:
    ingest, _ = await start_platform(processes, platform_env)
    shop = await start_shop(processes, ingest.url)
    frontend_url, payment_url, inventory_url = shop.frontend, shop.payment, shop.inventory

    async def load() -> LoadSummary:
        return await LoadGenerator(frontend_url, rate=RateProfile(30), seed=7).run_for(5)

    async with httpx.AsyncClient() as client:
        # A first round warms up what was just started (connections, exporters, a machine still
        # busy stopping the previous test's processes); its pace is not the shop's.
        await load()
        baseline = await load()
        assert baseline.error_rate < 0.1

        injected = await client.post(f"{payment_url}/simulate/error", params={"rate": 0.6})
        assert injected.json() == {"error_rate": 0.6, "latency_ms": 0.0}
        failing = await load()
        assert 0.4 <= failing.error_rate <= 0.8, failing

        await client.post(f"{payment_url}/simulate/reset")
        await client.post(f"{inventory_url}/simulate/latency", params={"ms": 400})
        assert (await client.get(f"{inventory_url}/simulate")).json()["latency_ms"] == 400
        slow = await load()
        assert slow.p50_ms >= 400, slow
        assert slow.error_rate < 0.1

        await client.post(f"{inventory_url}/simulate/reset")
        recovered = await load()
        assert recovered.error_rate < 0.1
        # Relative to the same machine's own pace: a busy machine slows every phase alike, and
        # the 400 ms added to inventory must show on top of it, then go.
        assert slow.p50_ms - baseline.p50_ms >= 250, (baseline, slow)
        assert slow.p50_ms - recovered.p50_ms >= 250, (slow, recovered)

        refused = await client.post(f"{payment_url}/simulate/error", params={"rate": 2})
        assert refused.status_code == 422
        assert refused.json()["error"]["details"][0]["field"] == "query.rate"
