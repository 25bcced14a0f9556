"""Inventory's database, stock-db: every stock read is a PostgreSQL CLIENT span that no server span
answers (the platform infers "postgresql stock-db" from it), with fault controls of its own under
/simulate/stock-db. The inventory app in process, its spans caught in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aiops_shop.inventory import create_app
from aiops_shop.settings import ShopSettings
from tests.support.apps import running
from tests.support.shop import in_memory_telemetry
from tests.support.waiting import eventually

CALM = ShopSettings(shop_natural_error_rate=0)
QUERY_SPAN = "SELECT stock"


@asynccontextmanager
async def inventory(spans: list[ReadableSpan]) -> AsyncIterator[httpx.AsyncClient]:
    """The inventory app; when it stops (its exporter flushed), `spans` holds every span it ended."""
    exporter = InMemorySpanExporter()
    try:
        async with running(create_app(CALM, **in_memory_telemetry(exporter))) as client:
            yield client
    finally:
        spans.extend(exporter.get_finished_spans())


def named(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


async def test_a_stock_read_is_a_postgresql_client_span_under_the_request() -> None:
    spans: list[ReadableSpan] = []
    async with inventory(spans) as client:
        response = await client.get("/inventory/SKU-7")
        assert response.status_code == 200, response.text
        assert response.json()["sku"] == "SKU-7"
    [query] = named(spans, QUERY_SPAN)
    [request] = named(spans, "GET /inventory/{sku}")
    assert query.kind is SpanKind.CLIENT
    assert dict(query.attributes or {}) == {
        "db.system": "postgresql",
        "db.namespace": "stock",
        "db.operation.name": "SELECT",
        "db.collection.name": "stock",
        "db.query.text": "SELECT available FROM stock WHERE sku = $1",
        "server.address": "stock-db",
        "server.port": 5432,
    }
    assert query.status.status_code is StatusCode.UNSET
    assert query.parent is not None
    assert request.context is not None
    assert (query.parent.span_id, query.context.trace_id) == (
        request.context.span_id,
        request.context.trace_id,
    )
    assert query.resource.attributes["service.name"] == "inventory"


async def test_a_failing_database_fails_its_span_and_then_the_request() -> None:
    spans: list[ReadableSpan] = []
    async with inventory(spans) as client:
        injected = await client.post("/simulate/stock-db/error", params={"rate": 1})
        assert injected.json() == {"error_rate": 1.0, "latency_ms": 0.0}
        # Inventory's own controls are not the database's.
        assert (await client.get("/simulate")).json() == {"error_rate": 0.0, "latency_ms": 0.0}
        failed = await client.get("/inventory/SKU-7")
        assert failed.status_code == 500
        assert "stock-db: connection reset" in failed.text
    [query] = named(spans, QUERY_SPAN)
    [request] = named(spans, "GET /inventory/{sku}")
    assert (query.status.status_code, query.status.description) == (
        StatusCode.ERROR,
        "stock-db: connection reset",
    )
    # The request's span says why, as an exception (what ingest reads when the status has no text).
    assert request.status.status_code is StatusCode.ERROR
    messages = [(event.attributes or {}).get("exception.message") for event in request.events]
    assert messages == ["stock-db: connection reset"]


async def test_the_database_s_latency_is_taken_inside_its_span() -> None:
    spans: list[ReadableSpan] = []
    async with inventory(spans) as client:
        await client.post("/simulate/stock-db/latency", params={"ms": 120})
        assert (await client.get("/inventory/SKU-1")).status_code == 200
    [query] = named(spans, QUERY_SPAN)
    assert query.end_time is not None
    assert query.start_time is not None
    assert (query.end_time - query.start_time) / 1e6 >= 120


async def test_inventory_s_reset_resets_its_database_and_the_database_s_own_reset_only_it() -> None:
    spans: list[ReadableSpan] = []
    async with inventory(spans) as client:
        await client.post("/simulate/stock-db/latency", params={"ms": 300})
        await client.post("/simulate/latency", params={"ms": 50})
        assert (await client.get("/simulate/stock-db")).json() == {"error_rate": 0.0, "latency_ms": 300.0}
        reset = await client.post("/simulate/stock-db/reset")
        assert reset.json() == {"error_rate": 0.0, "latency_ms": 0.0}
        assert (await client.get("/simulate")).json()["latency_ms"] == 50.0

        await client.post("/simulate/stock-db/error", params={"rate": 0.5})
        await client.post("/simulate/reset")
        assert (await client.get("/simulate/stock-db")).json() == {"error_rate": 0.0, "latency_ms": 0.0}
        assert (await client.get("/simulate")).json() == {"error_rate": 0.0, "latency_ms": 0.0}

        refused = await client.post("/simulate/stock-db/error", params={"rate": 2})
        assert refused.status_code == 422
        assert refused.json()["error"]["details"][0]["field"] == "query.rate"
    # Fault controls are not shop traffic: no span for them.
    assert spans == []


async def test_a_leaking_pool_serves_until_it_runs_dry_then_fails_and_a_reset_mends_it() -> None:
    spans: list[ReadableSpan] = []
    async with inventory(spans) as client:
        started = (await client.post("/simulate/leak", params={"per_minute": 600})).json()
        assert (started["per_minute"], started["size"]) == (600, 10)
        assert (await client.get("/inventory/SKU-1")).status_code == 200, "served while it leaks"
        await eventually(
            lambda: client.get("/simulate/leak"),
            lambda r: r.json()["leaked"] == 10,
            timeout_s=10,
            interval_s=0.1,
            what="the pool leaked dry",
        )
        dry = await client.get("/inventory/SKU-1")
        assert dry.status_code == 500
        assert "no connection free" in dry.json()["error"]["message"]
        assert (await client.get("/simulate/leak")).json()["first_exhausted_at"] is not None

        await client.post("/simulate/reset")
        mended = (await client.get("/simulate/leak")).json()
        assert (mended["per_minute"], mended["leaked"], mended["used"]) == (0, 0, 0)
        assert mended["first_exhausted_at"] is None
        assert (await client.get("/inventory/SKU-1")).status_code == 200
