"""Ingest's per-client rate limit, on the real Redis and RabbitMQ."""

from __future__ import annotations

import httpx
from google.rpc import status_pb2

from aiops_core.bus.topology import SPAN_STORE_QUEUE
from aiops_ingest.app import create_app
from tests.integration.test_ingest_api import PROTOBUF, settings
from tests.support.apps import running
from tests.support.bus import depth
from tests.support.otlp import SpanSpec, build_request
from tests.support.processes import free_port

RECORD = {"service_name": "payment", "endpoint": "/pay", "status_code": 200, "latency_ms": 3}


async def test_a_client_over_its_limit_gets_429_with_retry_after_on_both_endpoints(
    broker_url: str, redis_url: str, redis_prefix: str
) -> None:
    limited = settings(
        broker_url,
        redis_url=redis_url,
        redis_key_prefix=redis_prefix,
        ingest_rate_limit_per_s=0.01,
        ingest_rate_limit_burst=2,
    )
    body = build_request([SpanSpec()]).SerializeToString()
    async with running(create_app(limited)) as client:
        # Both endpoints draw on the one bucket of the client.
        assert (await client.post("/v1/traces", content=body, headers=PROTOBUF)).status_code == 200
        assert (await client.post("/api/v1/telemetry", json=RECORD)).status_code == 202

        traces = await client.post("/v1/traces", content=body, headers=PROTOBUF)
        records = await client.post("/api/v1/telemetry", json=RECORD)
        for refused in (traces, records):
            assert refused.status_code == 429
            # An empty bucket at 0.01 requests/s: the next is allowed in about 100 s.
            assert 90 <= int(refused.headers["retry-after"]) <= 100
        assert records.json()["error"]["code"] == "rate_limited"
        # OTLP's refusal is a google.rpc.Status, as every error under /v1/.
        status = status_pb2.Status.FromString(traces.content)
        assert (status.code, "rate limit" in status.message) == (8, True)

        # Readiness and metrics are never limited, and the refusals are counted as 429s.
        assert (await client.get("/readyz")).status_code == 200
        metrics = (await client.get("/metrics")).text
        assert 'handler="/v1/traces",method="POST",status="4xx"' in metrics
        # Another bearer token is another client.
        other = await client.post(
            "/v1/traces", content=body, headers={**PROTOBUF, "authorization": "Bearer other"}
        )
        assert other.status_code == 200
    assert await depth(broker_url, SPAN_STORE_QUEUE.name) == 3


async def test_without_redis_ingest_is_ready_and_lets_requests_through(broker_url: str) -> None:
    no_redis = settings(
        broker_url,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        ingest_rate_limit_per_s=0.01,
        ingest_rate_limit_burst=1,
    )
    body = build_request([SpanSpec()]).SerializeToString()
    async with running(create_app(no_redis)) as client:  # waits for /readyz: 200 without Redis
        responses: list[httpx.Response] = [
            await client.post("/v1/traces", content=body, headers=PROTOBUF) for _ in range(3)
        ]
    assert [r.status_code for r in responses] == [200, 200, 200]
