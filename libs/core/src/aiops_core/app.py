"""What every service app has: error handling, health, metrics and OpenAPI docs.

A service builds its own lifespan (creating its clients) and routers, then calls
`create_service_app`; `ServiceSpec` is what it registers under the `aiops.services` entry
point so that `aiops serve NAME` and `aiops up` can find it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from importlib.metadata import version

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator

from aiops_core.errors import install_error_handlers
from aiops_core.observability.health import HealthChecks, health_router

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

_UNINSTRUMENTED = ["/metrics", "/livez", "/readyz", "/health"]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    default_port: int
    summary: str
    create_app: Callable[[], FastAPI]


def create_service_app(
    *,
    title: str,
    description: str,
    lifespan: Lifespan,
    health: HealthChecks,
    registry: CollectorRegistry,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    app = FastAPI(
        title=title,
        description=description,
        version=version("aiops-core"),
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.health = health
    install_error_handlers(app)
    app.include_router(health_router())
    for router in routers:
        app.include_router(router)
    Instrumentator(registry=registry, excluded_handlers=_UNINSTRUMENTED).instrument(app).expose(
        app, tags=["health"]
    )
    return app
