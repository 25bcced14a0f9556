"""The ingest app: its factory and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI

from aiops_core.app import ServiceSpec, create_service_app
from aiops_core.bus import Bus
from aiops_core.cache import Cache, create_redis
from aiops_core.clients import create_bus
from aiops_core.observability.health import HealthChecks
from aiops_core.observability.metrics import create_registry
from aiops_core.ratelimit import RateLimiter, install_rate_limit
from aiops_ingest.dependencies import State
from aiops_ingest.grpc_server import OtlpGrpcServer
from aiops_ingest.metrics import IngestMetrics
from aiops_ingest.normalise import SpanNormaliser
from aiops_ingest.normalise_logs import LogNormaliser
from aiops_ingest.normalise_metrics import MetricNormaliser
from aiops_ingest.normalised import Limits
from aiops_ingest.otlp_errors import OtlpErrorBodies
from aiops_ingest.routes import ingest_router
from aiops_ingest.service import IngestService, Normalisers
from aiops_ingest.settings import IngestSettings

DESCRIPTION = """\
Receives OpenTelemetry traces, metrics and logs over OTLP/HTTP (`POST /v1/traces`,
`/v1/metrics`, `/v1/logs`; protobuf or JSON, optionally gzip) and over OTLP/gRPC (port
`AIOPS_INGEST_GRPC_PORT`, 4317 by default), and simple JSON request records
(`POST /api/v1/telemetry`); normalises them and publishes them to the bus in batches. A 2xx means
the broker has them; a 503 with `Retry-After` means nothing was kept and the client should send
again, and so does a 429 with `Retry-After`: the client (its bearer token, else its address) sent
more than `AIOPS_INGEST_RATE_LIMIT_PER_S` allows.
"""


def create_app(
    settings: IngestSettings | None = None,
    bus: Bus | None = None,
    redis: Cache | None = None,
    *,
    grpc_host: str = "0.0.0.0",
    grpc_port_offset: int = 0,
) -> FastAPI:
    """Build the app. `bus` and `redis` are for the all-in-one mode, where services share an
    in-process bus and cache. OTLP/gRPC listens on `grpc_host` (where the HTTP server does) and
    the configured port plus `grpc_port_offset` (`aiops serve --port-offset`)."""
    settings = settings or IngestSettings()
    registry = create_registry()
    metrics = IngestMetrics(registry)
    health = HealthChecks()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        owned_bus, owned_redis = bus is None, redis is None
        active_bus = bus or create_bus(settings, connection_name="aiops-ingest")
        # Only the rate limiter uses Redis, and it fails open: readiness does not depend on it.
        cache = redis or create_redis(settings.redis_url, cluster=settings.redis_cluster)
        if owned_bus:
            await active_bus.start()
        health.add("broker", active_bus.ping)
        limits = Limits(
            max_attributes=settings.max_attributes,
            max_attribute_length=settings.max_attribute_length,
            max_age_s=settings.spans_retention_days * 86_400,
            max_clock_skew_s=settings.max_clock_skew_s,
        )
        service = IngestService(
            active_bus,
            Normalisers(
                spans=SpanNormaliser(limits),
                metrics=MetricNormaliser(
                    replace(limits, max_age_s=settings.metrics_retention_days * 86_400),
                    max_series_attributes=settings.metric_series_attributes,
                ),
                logs=LogNormaliser(
                    replace(limits, max_age_s=settings.logs_retention_days * 86_400),
                    max_body_length=settings.max_log_body_length,
                ),
            ),
            metrics,
            max_body_bytes=settings.max_body_bytes,
            batch_max_items=settings.batch_max_spans,
            batch_linger_s=settings.batch_linger_ms / 1000,
        )
        rate_limiter = RateLimiter(
            cache,
            prefix=settings.redis_key_prefix,
            scope="ingest",
            rate_per_s=settings.ingest_rate_limit_per_s,
            burst=settings.ingest_rate_limit_burst,
        )
        grpc_port = settings.ingest_grpc_port and settings.ingest_grpc_port + grpc_port_offset
        grpc_server = (
            OtlpGrpcServer(
                service,
                metrics,
                host=grpc_host,
                port=grpc_port,
                tokens=settings.ingest_tokens,
                rate_limiter=rate_limiter,
                max_message_bytes=settings.max_body_bytes,
            )
            if grpc_port
            else None
        )
        try:
            if grpc_server is not None:
                await grpc_server.start()
            yield State(service=service, tokens=tuple(settings.ingest_tokens), rate_limiter=rate_limiter)
        finally:
            # gRPC first: the calls it lets finish need the batchers that `close` flushes.
            if grpc_server is not None:
                await grpc_server.stop()
            await service.close()
            if owned_bus:
                await active_bus.close()
            if owned_redis:
                await cache.aclose()

    app = create_service_app(
        title="AIOps ingest",
        description=DESCRIPTION,
        lifespan=lifespan,
        health=health,
        registry=registry,
        routers=[ingest_router(settings.max_body_bytes)],
    )
    install_rate_limit(app)
    # Outermost of the middleware, to see every refusal of an OTLP request (the rate limit's too).
    app.add_middleware(OtlpErrorBodies)
    return app


SERVICE = ServiceSpec(
    name="ingest",
    default_port=4318,
    summary="traces, metrics, logs over OTLP/HTTP; OTLP/gRPC on AIOPS_INGEST_GRPC_PORT (4317)",
    build=lambda shared: create_app(
        bus=shared.bus, redis=shared.redis, grpc_host=shared.host, grpc_port_offset=shared.port_offset
    ),
    order=20,
)
