"""The incidents app as `aiops up` builds it, in-process on the real servers: the web UI's page and
files are served without spending the API's rate limit, Swagger UI is at /docs and /api/docs,
the new routes are in the schema, and the demo shop's apps running beside it are the fault
panel's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from aiops_incidents.app import create_app
from aiops_incidents.settings import IncidentSettings
from aiops_incidents.web_ui import WEB_DIR
from aiops_shop.payment import create_app as payment_app
from tests.support.apps import running, started
from tests.support.serving import serving
from tests.support.shop import in_memory_telemetry

BURST = 3


@asynccontextmanager
async def shop_app(app: FastAPI) -> AsyncIterator[str]:
    async with started(app) as served, serving(served) as server:
        yield server.url


async def test_the_web_ui_the_docs_and_the_fault_panel_of_aiops_up(
    database_url: str, broker_url: str, redis_url: str, redis_prefix: str
) -> None:
    settings = IncidentSettings(
        database_url=database_url,
        broker_url=broker_url,
        redis_url=redis_url,
        redis_key_prefix=redis_prefix,
        # Hardly any refill: every API request counts against the burst.
        api_rate_limit_per_s=0.001,
        api_rate_limit_burst=BURST,
    )
    async with shop_app(payment_app(**in_memory_telemetry())) as payment:
        service_urls = {"incidents": "http://127.0.0.1:8000", "shop-payment": payment}
        async with running(create_app(settings, service_urls=service_urls)) as client:
            schema = (await client.get("/openapi.json")).json()
            assert {
                "/aiops/stats/record",
                "/aiops/traces/{trace_id}",
                "/aiops/services/{service}/series",
                "/aiops/demo/faults",
                "/aiops/demo/faults/{service}",
            } <= set(schema["paths"])
            assert "/" not in schema["paths"]
            for docs in ("/docs", "/api/docs"):
                page = await client.get(docs)
                assert page.status_code == 200
                assert "/docs/assets/swagger-ui-bundle.js" in page.text
                assert "cdn." not in page.text

            # The page and its files, many times over: none of it is an API call.
            index = (WEB_DIR / "index.html").read_bytes()
            for _ in range(BURST + 2):
                page = await client.get("/")
                assert page.status_code == 200
                assert page.headers["content-type"].startswith("text/html")
                assert page.headers["cache-control"] == "no-cache"
                assert page.content == index
                asset = await client.get("/ui/index.html")
                assert asset.status_code == 200
                assert asset.headers["cache-control"] == "no-cache"
            missing = await client.get("/ui/no-such-file.js")
            assert missing.status_code == 404
            assert missing.json()["error"]["code"] == "not_found"

            faults = await client.get("/aiops/demo/faults")
            assert faults.status_code == 200, faults.text
            assert faults.json() == {
                "services": [
                    {
                        "service": "payment",
                        "node": "payment",
                        "error_rate": 0.0,
                        "latency_ms": 0.0,
                        "reachable": True,
                    }
                ]
            }
            for _ in range(BURST - 1):
                assert (await client.get("/aiops/stats/record")).status_code == 200
            limited = await client.get("/aiops/stats/record")
            assert limited.status_code == 429
            assert limited.json()["error"]["code"] == "rate_limited"
