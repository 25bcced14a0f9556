"""`GET /aiops/traces/{trace_id}` on the real PostgreSQL: a stored trace's spans by start time and
its log records, 404 for a trace id nothing has, 422 for what is not a trace id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from aiops_core.models import Span
from aiops_detector.writer.repository import SpanRepository
from aiops_incidents.rca.routes import traces_router
from tests.support.incidents_api import api_app, api_client
from tests.support.otlp import log_record, logs_request
from tests.support.shop_traces import checkout_trace
from tests.support.spans import batch_of, stored_batch
from tests.support.stored_telemetry import store_logs

A_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_app(pool, traces_router())) as client:
        yield client


async def store(pool: asyncpg.Pool, *traces: list[Span]) -> None:
    await SpanRepository(pool, partitioned=True).write_batch(
        stored_batch(batch_of([s for trace in traces for s in trace]))
    )


async def test_a_stored_trace_comes_back_whole_by_start_time(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    failing = checkout_trace(start, payment_fails=True)
    other = checkout_trace(start + timedelta(milliseconds=5))
    await store(pool, failing, other)
    trace_id = failing[0].trace_id

    response = await client.get(f"/aiops/traces/{trace_id}")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["trace_id"] == trace_id
    spans = body["spans"]
    expected = sorted(failing, key=lambda s: (s.start_time_unix_nano, s.span_id))
    assert [s["span_id"] for s in spans] == [s.span_id for s in expected]
    starts = [datetime.fromisoformat(s["start_time"]) for s in spans]
    assert starts == sorted(starts)
    root, *_ = spans
    assert root.pop("duration_ms") == pytest.approx(failing[0].duration_ns / 1e6)
    assert root == {
        "span_id": failing[0].span_id,
        "parent_span_id": None,
        "service": "frontend",
        "operation": "POST /checkout",
        "kind": "server",
        "start_time": start.isoformat().replace("+00:00", "Z"),
        "is_error": True,
        "error_message": "payment answered 500",
    }
    payment = next(s for s in spans if s["service"] == "payment")
    assert payment["is_error"] is True
    assert payment["error_message"] == "card processor timed out"
    assert payment["parent_span_id"] == next(s["span_id"] for s in spans if s["operation"] == "POST")


async def test_a_trace_no_span_has_is_a_404(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    await store(pool, checkout_trace(datetime.now(UTC)))
    response = await client.get(f"/aiops/traces/{'0' * 32}")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "not_found",
        "message": f"nothing stored has the trace id {'0' * 32}",
    }


@pytest.mark.parametrize(
    "trace_id",
    [A_TRACE_ID.upper(), A_TRACE_ID[:-1], A_TRACE_ID + "6", "z" * 32],
    ids=["uppercase", "31 digits", "33 digits", "not hex"],
)
async def test_what_is_not_a_trace_id_is_a_422(client: httpx.AsyncClient, trace_id: str) -> None:
    response = await client.get(f"/aiops/traces/{trace_id}")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "path.trace_id" in error["message"]


async def test_the_log_records_sent_in_a_trace_come_with_it(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    failing = checkout_trace(start, payment_fails=True)
    await store(pool, failing)
    payment = next(s for s in failing if s.service == "payment")
    trace_id = bytes.fromhex(failing[0].trace_id)
    at = int(start.timestamp() * 1e9)
    records = [
        log_record("retrying", time_ns=at + 2_000_000, severity=13, trace_id=trace_id),
        log_record(
            "request failed: card processor timed out",
            time_ns=at + 1_000_000,
            trace_id=trace_id,
            span_id=bytes.fromhex(payment.span_id),
            attributes={"exception.type": "TimeoutError"},
        ),
        log_record("another trace's", time_ns=at, trace_id=bytes(range(16))),
    ]
    await store_logs(pool, logs_request(records, service="payment"))

    logs = (await client.get(f"/aiops/traces/{failing[0].trace_id}")).json()["logs"]

    assert [(log["body"], log["severity_number"], log["span_id"]) for log in logs] == [
        ("request failed: card processor timed out", 17, payment.span_id),
        ("retrying", 13, None),
    ]
    assert logs[0]["attributes"] == {"exception.type": "TimeoutError"}
    assert (logs[0]["service"], logs[0]["instance"]) == ("payment", "shop-1")
