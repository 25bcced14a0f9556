"""A leak end to end, as separate processes on the real RabbitMQ, PostgreSQL and Redis: the demo
shop's inventory made to leak stock-db connections under load. Its pool's in-use gauge, exported
over OTLP, climbs toward the pool's size; the saturation forecast opens an incident ranked on
inventory before the first request fails for want of a connection, and once requests fail, the
incident's evidence holds inventory's error logs of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from tests.e2e.conftest import FAST_INCIDENTS, start_incidents, start_load, start_platform
from tests.support.processes import AiopsProcess
from tests.support.shop import shop_process
from tests.support.waiting import eventually

# One connection every 4 s: the pool of 10 runs dry 40 s after the leak begins.
LEAK_PER_MINUTE = 15


async def test_a_leaking_pool_opens_an_incident_on_inventory_before_requests_fail(
    processes: list[AiopsProcess], platform_env: dict[str, str]
) -> None:
    env = platform_env | FAST_INCIDENTS | {"AIOPS_WATCH_INTERVAL_S": "1"}
    ingest, _ = await start_platform(processes, env)
    incidents = await start_incidents(processes, env)
    # Metrics every second, as traces: the climb is seen within seconds.
    shop, urls = shop_process(
        {"OTEL_BSP_SCHEDULE_DELAY": "500", "OTEL_METRIC_EXPORT_INTERVAL": "1000"}, ingest.url
    )
    processes.append(shop)
    await shop.wait_ready()
    start_load(processes, urls.frontend, 10)

    async with httpx.AsyncClient(timeout=10) as client:

        async def get(path: str, **params: Any) -> Any:
            response = await client.get(f"{incidents.url}/aiops{path}", params=params)
            response.raise_for_status()
            return response.json()

        # The frontend -> inventory edge learned, and the pool's metrics stored, before the leak.
        await eventually(
            lambda: get("/services"),
            lambda g: ("frontend", "inventory") in {(e["source"], e["target"]) for e in g["edges"]},
            timeout_s=60,
            interval_s=1,
            what="the service graph learned from the traces",
        )
        await eventually(
            lambda: get("/services/inventory/metrics", minutes=5),
            lambda m: "db.client.connection.max" in {s["name"] for s in m["series"]},
            timeout_s=30,
            interval_s=1,
            what="the pool's metrics stored",
        )
        assert (await get("/incidents", status="open"))["items"] == []

        leak = await client.post(f"{urls.inventory}/simulate/leak", params={"per_minute": LEAK_PER_MINUTE})
        leak.raise_for_status()
        page = await eventually(
            lambda: get("/incidents", status="open"),
            lambda p: bool(p["items"]),
            timeout_s=90,
            interval_s=0.5,
            what="an incident opened",
        )
        opened = page["items"][0]
        assert opened["root_cause"]["service"] == "inventory"
        assert opened["root_cause"]["kind"] == "saturation"
        # No request had failed for want of a connection yet when it opened.
        pool = (await client.get(f"{urls.inventory}/simulate/leak")).json()
        first_failure = pool["first_exhausted_at"]
        assert first_failure is None or datetime.fromisoformat(opened["opened_at"]) < datetime.fromisoformat(
            first_failure
        )

        # Then the pool runs dry, requests fail, and inventory's error logs join the evidence.
        detail = await eventually(
            lambda: get(f"/incidents/{opened['id']}"),
            lambda d: any(
                "no connection free" in log["template"]
                for c in d["candidates"]
                if c["service"] == "inventory"
                for log in c["evidence"]["logs"]
            ),
            timeout_s=120,
            interval_s=1,
            what="inventory's error logs of the dry pool in the evidence",
        )
        pool = (await client.get(f"{urls.inventory}/simulate/leak")).json()
        assert pool["first_exhausted_at"] is not None
        warning_s = (
            datetime.fromisoformat(pool["first_exhausted_at"]) - datetime.fromisoformat(opened["opened_at"])
        ).total_seconds()
        assert warning_s > 0, f"opened {warning_s:.1f} s after the first failure"
        assert detail["root_cause"]["service"] == "inventory"
        inventory = next(c for c in detail["candidates"] if c["service"] == "inventory")
        saturation = next(a for a in detail["anomalies"] if a["kind"] == "saturation")
        assert saturation["observed"]["limit"] == 10
        assert inventory["evidence"]["logs"][0]["count"] >= 1
        print(f"incident opened {warning_s:.1f} s before the first request failed")
