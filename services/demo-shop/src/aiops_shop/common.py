"""What the three shop apps share: fault controls, tracing, health and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request

from aiops_core.app import Shared, create_service_app
from aiops_core.observability.health import HealthChecks
from aiops_core.observability.metrics import create_registry
from aiops_shop.faults import Behaviour, FaultState
from aiops_shop.telemetry import ShopTelemetry

ShopLifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def get_behaviour(request: Request) -> Behaviour:
    behaviour: Behaviour = request.app.state.behaviour
    return behaviour


def fault_router() -> APIRouter:
    router = APIRouter(prefix="/simulate", tags=["fault injection"])

    @router.get("", summary="The faults now injected")
    async def current(request: Request) -> FaultState:
        return get_behaviour(request).state()

    @router.post("/error", summary="Fail a share of requests (0 to 1)")
    async def inject_errors(request: Request, rate: Annotated[float, Query(ge=0, le=1)]) -> FaultState:
        behaviour = get_behaviour(request)
        behaviour.error_rate = rate
        return behaviour.state()

    @router.post("/latency", summary="Add a delay to every request, in milliseconds")
    async def inject_latency(request: Request, ms: Annotated[float, Query(ge=0, le=60_000)]) -> FaultState:
        behaviour = get_behaviour(request)
        behaviour.added_latency_ms = ms
        return behaviour.state()

    @router.post("/reset", summary="Stop injecting faults")
    async def reset(request: Request) -> FaultState:
        behaviour = get_behaviour(request)
        behaviour.reset()
        return behaviour.state()

    return router


def otlp_endpoint(shared: Shared) -> str | None:
    """Ingest's address when it runs in the same process; otherwise OpenTelemetry's env decides."""
    return shared.service_urls.get("ingest")


def create_shop_app(
    *,
    service_name: str,
    title: str,
    description: str,
    behaviour: Behaviour,
    routers: Sequence[APIRouter],
    shared: Shared,
    lifespan: ShopLifespan | None = None,
) -> FastAPI:
    registry = create_registry()
    telemetry = ShopTelemetry(service_name, registry, otlp_endpoint(shared))

    @asynccontextmanager
    async def shop_lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.behaviour = behaviour
        app.state.telemetry = telemetry
        try:
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield
        finally:
            # Blocking: the exporter posts what it still holds.
            await asyncio.to_thread(telemetry.shutdown)

    app = create_service_app(
        title=title,
        description=description,
        lifespan=shop_lifespan,
        health=HealthChecks(),
        registry=registry,
        routers=[*routers, fault_router()],
    )
    telemetry.instrument(app)
    return app
