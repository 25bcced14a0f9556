"""What the three shop apps share: fault controls, tracing, health and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from aiops_core.app import Shared, create_service_app
from aiops_core.observability.health import HealthChecks
from aiops_core.observability.metrics import create_registry
from aiops_shop.faults import Behaviour, FaultState
from aiops_shop.telemetry import ShopTelemetry

# An app's own lifespan: given its telemetry, it yields what its routes need besides the
# behaviour, as lifespan state (the frontend: its HTTP client).
ShopLifespan = Callable[[ShopTelemetry], AbstractAsyncContextManager[Mapping[str, Any]]]


def get_behaviour(request: Request) -> Behaviour:
    behaviour: Behaviour = request.state.behaviour
    return behaviour


ShopBehaviour = Annotated[Behaviour, Depends(get_behaviour)]


def fault_router() -> APIRouter:
    router = APIRouter(prefix="/simulate", tags=["fault injection"])

    @router.get("", summary="The faults now injected")
    async def current(behaviour: ShopBehaviour) -> FaultState:
        return behaviour.state()

    @router.post("/error", summary="Fail a share of requests (0 to 1)")
    async def inject_errors(
        behaviour: ShopBehaviour, rate: Annotated[float, Query(ge=0, le=1)]
    ) -> FaultState:
        behaviour.error_rate = rate
        return behaviour.state()

    @router.post("/latency", summary="Add a delay to every request, in milliseconds")
    async def inject_latency(
        behaviour: ShopBehaviour, ms: Annotated[float, Query(ge=0, le=60_000)]
    ) -> FaultState:
        behaviour.added_latency_ms = ms
        return behaviour.state()

    @router.post("/reset", summary="Stop injecting faults")
    async def reset(behaviour: ShopBehaviour) -> FaultState:
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
    async def shop_lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        try:
            if lifespan is None:
                yield {"behaviour": behaviour}
            else:
                async with lifespan(telemetry) as state:
                    yield {"behaviour": behaviour, **state}
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
