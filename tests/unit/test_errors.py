"""The one JSON error body, as any service app renders it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from aiops_core.app import create_service_app
from aiops_core.errors import DependencyUnavailableError, NotFoundError
from aiops_core.observability.health import HealthChecks
from aiops_core.observability.metrics import create_registry


class Order(BaseModel):
    quantity: int = Field(ge=1)


def _app() -> FastAPI:
    router = APIRouter()

    @router.post("/orders")
    async def create_order(order: Order) -> dict[str, int]:
        return {"quantity": order.quantity}

    @router.get("/orders/{order_id}")
    async def get_order(order_id: int) -> None:
        raise NotFoundError(f"order {order_id} does not exist")

    @router.get("/unavailable")
    async def unavailable() -> None:
        raise DependencyUnavailableError("store", "connection refused", retry_after_s=7)

    drafts = APIRouter()

    @drafts.put("/orders/new")
    async def draft_order(order: Order) -> dict[str, int]:
        return {"quantity": order.quantity}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    return create_service_app(
        title="t",
        description="d",
        lifespan=lifespan,
        health=HealthChecks(),
        registry=create_registry(),
        routers=[router, drafts],
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_validation_error_names_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/orders", json={"quantity": 0})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == "body.quantity"
    assert "body.quantity" in error["message"]


async def test_domain_error_has_its_status_and_code(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/7")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "order 7 does not exist"}}


async def test_unavailable_dependency_is_503_with_retry_after(client: httpx.AsyncClient) -> None:
    response = await client.get("/unavailable")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"]["code"] == "dependency_unavailable"
    assert "store unavailable" in response.json()["error"]["message"]


async def test_unknown_route_and_method_get_the_same_body(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong_method = await client.delete("/orders")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_a_405_names_every_method_of_the_path_across_routes_and_routers(
    client: httpx.AsyncClient,
) -> None:
    # /orders/{id} is GET only; /orders/new is also PUT (another route, in another router).
    assert (await client.delete("/orders/7")).headers["allow"] == "GET"
    refused = await client.delete("/orders/new")
    assert refused.headers["allow"] == "GET, PUT"
    assert refused.json()["error"]["message"] == "DELETE is not allowed here; allowed: GET, PUT"
    # A mount (the API docs' files) names its own methods.
    assert (await client.post("/docs/assets/swagger-ui.css")).headers["allow"] == "GET, HEAD"


async def test_liveness_and_metrics_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/livez")).json() == {"status": "ok"}
    await client.post("/orders", json={"quantity": 2})
    metrics = (await client.get("/metrics")).text
    assert 'http_requests_total{handler="/orders"' in metrics
    # per-route latency fine enough for percentiles of fast routes
    assert 'http_request_duration_seconds_bucket{handler="/orders",le="0.025",method="POST"}' in metrics
    assert "process_resident_memory_bytes" in metrics
