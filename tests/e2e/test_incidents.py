"""Incidents end to end, as separate processes on the real RabbitMQ, PostgreSQL and a three-node
Redis Cluster (every service's Redis use, on the harder of the two kinds): the demo shop under
load, payment deployed as a new version that fails, and what the incidents API shows — one
incident whose top root cause is payment (not the frontend that suffers with it), naming the
deploy the platform saw in payment's spans, acknowledged with a write token, resolved by itself
once the deploy is rolled back."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tests.e2e.conftest import (
    FAST_INCIDENTS,
    ready_for_a_payment_fault,
    start_incidents,
    start_load,
    start_platform,
    start_shop,
)
from tests.support.processes import AiopsProcess
from tests.support.waiting import eventually

WRITE, READ = "w-secret", "r-secret"


async def test_a_bad_payment_deploy_opens_one_incident_on_payment_naming_it_which_resolves_after_rollback(
    processes: list[AiopsProcess], platform_env: dict[str, str], database_url: str, redis_cluster_url: str
) -> None:
    env = (
        platform_env
        | FAST_INCIDENTS
        | {
            "AIOPS_API_TOKENS": f"oncall:{WRITE}:write,viewer:{READ}:read",
            "AIOPS_REDIS_URL": redis_cluster_url,
            "AIOPS_REDIS_CLUSTER": "true",
            "AIOPS_REDIS_SHARDS": "16",
        }
    )
    ingest, _ = await start_platform(processes, env)
    incidents = await start_incidents(processes, env)
    shop = await start_shop(processes, ingest.url)
    start_load(processes, shop.frontend, 20)
    api = httpx.AsyncClient(base_url=f"{incidents.url}/aiops", timeout=10)

    async def get(path: str, **params: Any) -> Any:
        response = await api.get(path, params=params)
        response.raise_for_status()
        return response.json()

    notified: list[dict[str, Any]] = []

    async def listen() -> None:
        """The incident stream: notifications published on Redis, read back through the API."""
        headers = {"Authorization": f"Bearer {READ}"}
        async with api.stream("GET", "/incidents/stream", headers=headers, timeout=None) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    notified.append(json.loads(line.removeprefix("data: ")))

    async with api:
        listener = asyncio.create_task(listen())
        graph = await ready_for_a_payment_fault(database_url, incidents.url)
        assert {s["service"]: s["health"] for s in graph["services"]}["payment"] == "ok"
        before = {i["id"] for i in (await get("/incidents"))["items"]}

        deploy = {"version": "2.0.0", "rate": 1.0}
        (await api.post(f"{shop.payment}/simulate/deploy", params=deploy)).raise_for_status()
        page = await eventually(
            lambda: get("/incidents", status="open"),
            lambda p: bool(p["items"]),
            timeout_s=30,
            interval_s=0.5,
            what="an incident opened",
        )
        incident_id = page["items"][0]["id"]
        detail = await eventually(
            lambda: get(f"/incidents/{incident_id}"),
            lambda d: d["root_cause"] is not None and d["root_cause"]["service"] == "payment",
            timeout_s=20,
            interval_s=0.5,
            what="payment ranked as the root cause",
        )
        assert detail["root_cause"]["kind"] == "error_ratio"
        assert detail["root_cause"]["evidence"]["trace_ids"], "the root cause carries exemplar traces"
        # The deploy, seen in payment's spans by the rollup, named in the root cause's evidence.
        detail = await eventually(
            lambda: get(f"/incidents/{incident_id}"),
            lambda d: bool(d["root_cause"]["evidence"]["changes"]),
            timeout_s=20,
            interval_s=0.5,
            what="the deploy named in the root cause's evidence",
        )
        [change] = detail["root_cause"]["evidence"]["changes"]
        assert (change["kind"], change["old_version"], change["new_version"]) == ("deploy", "1.0.0", "2.0.0")
        assert -60 <= change["before_s"] <= 60
        assert detail["root_cause"]["reason"].startswith("payment 1.0.0 → 2.0.0 deployed")
        [listed] = await get("/changes", service="payment")
        assert (listed["source"], listed["id"]) == ("spans", change["id"])
        assert detail["timeline"][0]["type"] == "opened"
        await eventually(
            lambda: [
                n for n in notified if (n["event"]["type"], n["incident"]["id"]) == ("opened", incident_id)
            ],
            timeout_s=10,
            what="the opening notified on the incident stream",
        )

        ack = f"/incidents/{incident_id}/ack"
        refused = await api.post(ack)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
        read_only = await api.post(ack, headers={"Authorization": f"Bearer {READ}"})
        assert read_only.status_code == 403
        acked = await api.post(ack, headers={"Authorization": f"Bearer {WRITE}"}, json={"comment": "on it"})
        assert acked.status_code == 200, acked.text
        assert acked.json()["status"] == "acknowledged"
        assert [(e["type"], e["actor"]) for e in acked.json()["timeline"]][-2:] == [
            ("acknowledged", "oncall"),
            ("comment", "oncall"),
        ]

        (await api.post(f"{shop.payment}/simulate/reset")).raise_for_status()
        resolved = await eventually(
            lambda: get(f"/incidents/{incident_id}"),
            lambda d: d["status"] == "resolved",
            timeout_s=60,
            interval_s=0.5,
            what="the incident resolved by itself",
        )
        assert resolved["timeline"][-1]["type"] == "resolved"
        assert resolved["timeline"][-1]["actor"] == "system"
        everything = await get("/incidents")
        opened = [i["id"] for i in everything["items"] if i["id"] not in before]
        assert opened == [incident_id], "the fault opened one incident"
        assert all(a["cleared_at"] is not None for a in resolved["anomalies"])
        listener.cancel()
