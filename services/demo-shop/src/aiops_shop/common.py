"""What the shop apps share: fault controls, telemetry, health and metrics."""

# No `from __future__ import annotations` here: the fault routes' parameters are annotated with a
# dependency made inside `fault_router`, which FastAPI could not find in a string annotation.

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.trace.export import SpanExporter

from aiops_core.app import Shared, create_service_app
from aiops_core.observability.health import HealthChecks
from aiops_core.observability.metrics import create_registry
from aiops_shop.faults import Behaviour, DeployState, FaultState
from aiops_shop.telemetry import ShopTelemetry, VersionStamp, shop_resource

# An app's own lifespan: given its telemetry, it yields what its routes need besides the
# behaviour, as lifespan state (the frontend: its HTTP client).
ShopLifespan = Callable[[ShopTelemetry], AbstractAsyncContextManager[Mapping[str, Any]]]


def get_behaviour(request: Request) -> Behaviour:
    behaviour: Behaviour = request.state.behaviour
    return behaviour


ShopBehaviour = Annotated[Behaviour, Depends(get_behaviour)]


def get_log(request: Request) -> logging.Logger:
    """The app's own logger: what it logs there is exported with its telemetry."""
    log: logging.Logger = request.state.log
    return log


ShopLog = Annotated[logging.Logger, Depends(get_log)]


# Where every app's fault controls are.
CONTROLS = "/simulate"


def fault_router(
    prefix: str = CONTROLS, behaviour_of: Callable[[Request], Behaviour] = get_behaviour, *, of: str = ""
) -> APIRouter:
    """`GET {prefix}` and `POST {prefix}/error`, `/latency`, `/reset`: the fault controls of the
    behaviour `behaviour_of` finds, the app's own by default; `of` names another (its database)."""
    router = APIRouter(prefix=prefix, tags=["fault injection"])
    target = Depends(behaviour_of)
    whose = f" ({of})" if of else ""

    @router.get("", summary=f"The faults now injected{whose}")
    async def current(behaviour: Annotated[Behaviour, target]) -> FaultState:
        return behaviour.state()

    @router.post("/error", summary=f"Fail a share of requests (0 to 1){whose}")
    async def inject_errors(
        behaviour: Annotated[Behaviour, target], rate: Annotated[float, Query(ge=0, le=1)]
    ) -> FaultState:
        behaviour.error_rate = rate
        return behaviour.state()

    @router.post("/latency", summary=f"Add a delay to every request, in milliseconds{whose}")
    async def inject_latency(
        behaviour: Annotated[Behaviour, target], ms: Annotated[float, Query(ge=0, le=60_000)]
    ) -> FaultState:
        behaviour.added_latency_ms = ms
        return behaviour.state()

    if not of:

        @router.post("/deploy", summary="Deploy a new version that fails a share of requests, or is slower")
        async def deploy(
            behaviour: Annotated[Behaviour, target],
            version: Annotated[str, Query(min_length=1, max_length=64)],
            rate: Annotated[float, Query(ge=0, le=1)] = 0.0,
            ms: Annotated[float, Query(ge=0, le=60_000)] = 0.0,
        ) -> DeployState:
            """The app runs as `version` from now (its spans say so), failing `rate` of its requests
            and `ms` slower; a reset rolls it back to its own version."""
            behaviour.deployed_version = version
            behaviour.error_rate = rate
            behaviour.added_latency_ms = ms
            return DeployState(version=version, **behaviour.state().model_dump())

    @router.post("/reset", summary=f"Stop injecting faults{whose}")
    async def reset(behaviour: Annotated[Behaviour, target]) -> FaultState:
        behaviour.reset()
        return behaviour.state()

    return router


def otlp_endpoint(shared: Shared) -> str | None:
    """Ingest's address when it runs in the same process; otherwise OpenTelemetry's env decides."""
    return shared.service_urls.get("ingest")


def own_port(shared: Shared, spec_name: str) -> int | None:
    """The port the app named `spec_name` listens on, when the process says (`aiops serve`, `up`)."""
    url = shared.service_urls.get(spec_name)
    return urlsplit(url).port if url else None


def create_shop_app(
    *,
    service_name: str,
    spec_name: str,
    title: str,
    description: str,
    behaviour: Behaviour,
    routers: Sequence[APIRouter],
    shared: Shared,
    lifespan: ShopLifespan | None = None,
    instance_id: str | None = None,
    span_exporter: SpanExporter | None = None,
    metric_reader: MetricReader | None = None,
    log_exporter: LogRecordExporter | None = None,
) -> FastAPI:
    """`instance_id` is the app's `service.instance.id` (default: see `shop_resource`);
    `span_exporter`, `metric_reader` and `log_exporter` take its spans, metrics and logs instead
    of OTLP."""
    registry = create_registry()
    resource = shop_resource(service_name, instance_id=instance_id, port=own_port(shared, spec_name))
    telemetry = ShopTelemetry(
        resource,
        registry,
        otlp_endpoint(shared),
        span_exporter=span_exporter,
        metric_reader=metric_reader,
        log_exporter=log_exporter,
    )

    @asynccontextmanager
    async def shop_lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        common_state = {"behaviour": behaviour, "log": telemetry.log}
        try:
            telemetry.log.info("%s started as instance %s", telemetry.service_name, telemetry.instance_id)
            if lifespan is None:
                yield common_state
            else:
                async with lifespan(telemetry) as state:
                    yield {**common_state, **state}
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
    telemetry.tracer_provider.add_span_processor(VersionStamp(lambda: behaviour.deployed_version))
    telemetry.instrument(app)
    return app
