"""What every service app has: error handling, health, metrics and OpenAPI docs.

A service builds its own lifespan (creating its clients) and routers, then calls
`create_service_app`; `ServiceSpec` is what it registers under the `aiops.services` entry
point so that `aiops serve NAME` and `aiops up` can find it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator

from aiops_core.api_docs import install_api_docs
from aiops_core.bus import Bus
from aiops_core.cache import Cache
from aiops_core.components import Component
from aiops_core.errors import install_error_handlers
from aiops_core.observability.health import HealthChecks, health_router

# A lifespan yields the service's typed state (a TypedDict), or nothing when its routes need
# none; Starlette hands the state to every request as `request.state`, where the service's
# dependencies read it.
Lifespan = (
    Callable[[FastAPI], AbstractAsyncContextManager[Mapping[str, Any]]]
    | Callable[[FastAPI], AbstractAsyncContextManager[None]]
)

_UNINSTRUMENTED = ["/metrics", "/livez", "/readyz", "/health"]
# The per-route latency histogram: fine enough for p50/p95/p99 from a few ms to seconds.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Shared:
    """What services running in one process share. In the all-in-one mode (`aiops up`) that is
    the bus and the cache; with `aiops serve` nothing is shared and each service builds its own
    clients from settings. `service_urls` says where every service of the process listens; `host`
    is the address they listen on and `port_offset` what was added to their default ports, for
    any other port a service opens (ingest's OTLP/gRPC)."""

    bus: Bus | None = None
    redis: Cache | None = None
    service_urls: Mapping[str, str] = field(default_factory=dict)
    host: str = "0.0.0.0"
    port_offset: int = 0


@dataclass(frozen=True)
class ServiceSpec:
    """A service as the `aiops` command knows it.

    `build` makes its app; a spec without one is a group that serves its `members` together
    (`aiops serve shop`). Lower `order` starts earlier and stops later. `companion` is work to
    run beside the service in the all-in-one mode."""

    name: str
    default_port: int
    summary: str
    build: Callable[[Shared], FastAPI] | None = None
    members: tuple[str, ...] = ()
    order: int = 50
    companion: Callable[[Shared], Component] | None = None


def create_service_app(
    *,
    title: str,
    description: str,
    lifespan: Lifespan,
    health: HealthChecks,
    registry: CollectorRegistry,
    routers: Sequence[APIRouter] = (),
    docs_paths: Sequence[str] = ("/docs",),
) -> FastAPI:
    app = FastAPI(
        title=title,
        description=description,
        version=version("aiops-core"),
        lifespan=lifespan,
        docs_url=None,  # FastAPI's page loads Swagger UI from a CDN; install_api_docs does not
        redoc_url=None,
    )
    install_api_docs(app, docs_paths)
    # Set when the process begins to stop, before the server waits for open responses: a
    # long-lived response (an event stream) ends on it instead of holding the shutdown.
    app.state.stopping = asyncio.Event()
    install_error_handlers(app)
    app.include_router(health_router(health))
    for router in routers:
        app.include_router(router)
    Instrumentator(registry=registry, excluded_handlers=_UNINSTRUMENTED).instrument(
        app,
        latency_lowr_buckets=_LATENCY_BUCKETS,
        # Prometheus text is not JSON; left out of the schema so that it does not claim to be.
    ).expose(app, include_in_schema=False)
    return app


def get_stopping(request: Request) -> asyncio.Event | None:
    """The event set when the process begins to stop; None in an app not built here."""
    stopping: asyncio.Event | None = getattr(request.app.state, "stopping", None)
    return stopping


Stopping = Annotated[asyncio.Event | None, Depends(get_stopping)]
