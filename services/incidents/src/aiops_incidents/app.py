"""The incidents app: its factory and lifespan. It consumes anomaly events, keeps incidents and
the service graph, sends notifications and serves the REST API and the web UI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI

from aiops_core.app import ServiceSpec, create_service_app
from aiops_core.bus import Bus
from aiops_core.bus.topology import ANOMALY_QUEUE, WEBHOOK_DEAD_LETTERS
from aiops_core.cache import Cache
from aiops_core.clients import store_bus_and_cache
from aiops_core.components import Component, running
from aiops_core.observability.health import HealthChecks
from aiops_core.observability.metrics import create_registry
from aiops_core.observability.queue_depth import QueueDepthMonitor
from aiops_core.openapi import mark_auth_optional
from aiops_core.periodic import PeriodicJob
from aiops_core.ratelimit import RateLimiter, install_rate_limit
from aiops_incidents.auth import ApiAuth, auth_optional, parse_tokens
from aiops_incidents.changes.routes import changes_router
from aiops_incidents.consumers import AnomalyConsumer
from aiops_incidents.demo_faults.client import DEMO_SHOP_TIMEOUT_S, DemoShop
from aiops_incidents.demo_faults.routes import demo_faults_router
from aiops_incidents.demo_faults.urls import shop_urls
from aiops_incidents.dependencies import State
from aiops_incidents.live_stats import LiveStats
from aiops_incidents.metrics import IncidentMetrics
from aiops_incidents.notifications.channel import NotificationChannel
from aiops_incidents.notifications.metrics import NotificationMetrics
from aiops_incidents.notifications.outbox import NotificationOutbox
from aiops_incidents.notifications.silences.routes import silences_router
from aiops_incidents.notifications.stream import stream_router
from aiops_incidents.notifications.webhooks import WebhookDispatcher
from aiops_incidents.rca.routes import traces_router
from aiops_incidents.record.routes import record_router
from aiops_incidents.routes import incidents_router
from aiops_incidents.series.routes import series_router
from aiops_incidents.service import IncidentService, LifecycleConfig
from aiops_incidents.service_metrics.routes import service_metrics_router
from aiops_incidents.settings import IncidentSettings
from aiops_incidents.web_ui import ASSETS_PREFIX, PAGE_PATH, install_web_ui

DESCRIPTION = """\
Turns the detectors' anomalies into incidents: anomalies that overlap in time and are connected
in the service graph (learned from the traces) become one incident, whose root cause is ranked
from the traces: where the trouble started, not every service that suffered from it.

Incidents resolve themselves once every anomaly has stayed cleared for a cooldown, and reopen
if the same root cause fires again soon after. Mutating routes need a bearer token with the
`write` scope when `AIOPS_API_TOKENS` is set. The web UI is served at `/`.
"""

RESOLVE_INTERVAL_S = 1.0
GAUGE_INTERVAL_S = 5.0
# How often the outbox and the webhook deliveries look for work: the notification delay.
NOTIFY_INTERVAL_S = 0.5
# Its own queue's lag, and what lies dead-lettered.
MONITORED_QUEUES = [
    ANOMALY_QUEUE.name,
    ANOMALY_QUEUE.dead_letter_queue,
    WEBHOOK_DEAD_LETTERS.dead_letter_queue,
]


def create_app(
    settings: IncidentSettings | None = None,
    bus: Bus | None = None,
    redis: Cache | None = None,
    service_urls: Mapping[str, str] | None = None,
) -> FastAPI:
    """`service_urls`: where the services running in the same process listen (`aiops up`); the
    demo shop's apps among them are the fault panel's unless AIOPS_DEMO_SHOP_URLS says otherwise."""
    settings = settings or IncidentSettings()
    registry = create_registry()
    metrics = IncidentMetrics(registry)
    notification_metrics = NotificationMetrics(registry)
    health = HealthChecks()
    auth = ApiAuth(parse_tokens(settings.api_tokens), settings.api_read_requires_token)
    demo_shop_urls = shop_urls(settings.demo_shop_urls, service_urls or {})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        async with (
            store_bus_and_cache(settings, name="aiops-incidents", bus=bus, redis=redis) as clients,
            httpx.AsyncClient(timeout=DEMO_SHOP_TIMEOUT_S) as http,
        ):
            live_stats = LiveStats(clients.redis, prefix=settings.redis_key_prefix)
            service = IncidentService(
                clients.pool,
                metrics=metrics,
                live_stats=live_stats,
                config=LifecycleConfig(
                    resolve_cooldown=timedelta(seconds=settings.resolve_cooldown_s),
                    reopen_window=timedelta(seconds=settings.reopen_window_s),
                ),
            )
            graph_window = timedelta(seconds=settings.graph_window_s)
            outbox = NotificationOutbox(clients.pool, clients.redis, settings, notification_metrics)
            webhooks = WebhookDispatcher(clients.pool, clients.bus, settings, notification_metrics)
            components: list[Component] = [
                webhooks,
                PeriodicJob(
                    "service graph",
                    lambda: service.refresh_graph(graph_window),
                    interval_s=settings.graph_interval_s,
                ),
                PeriodicJob("root-cause ranking", service.rerank, interval_s=settings.rank_interval_s),
                PeriodicJob("auto-resolve", service.resolve_calm, interval_s=RESOLVE_INTERVAL_S),
                PeriodicJob(
                    "active incidents gauge", service.refresh_active_gauge, interval_s=GAUGE_INTERVAL_S
                ),
                PeriodicJob("notification outbox", outbox.run_once, interval_s=NOTIFY_INTERVAL_S),
                PeriodicJob("webhook deliveries", webhooks.run_once, interval_s=NOTIFY_INTERVAL_S),
                QueueDepthMonitor(clients.bus, MONITORED_QUEUES, registry),
                AnomalyConsumer(clients.bus, service, prefetch=settings.broker_prefetch),
            ]
            clients.add_health_checks(health)
            async with running(components):
                yield State(
                    auth=auth,
                    rate_limiter=RateLimiter(
                        clients.redis,
                        prefix=settings.redis_key_prefix,
                        scope="api",
                        rate_per_s=settings.api_rate_limit_per_s,
                        burst=settings.api_rate_limit_burst,
                    ),
                    pool=clients.pool,
                    service=service,
                    live_stats=live_stats,
                    notifications=NotificationChannel.of(clients.redis, settings.redis_key_prefix),
                    demo_shop=DemoShop(demo_shop_urls, http),
                )

    app = create_service_app(
        title="AIOps incidents",
        description=DESCRIPTION,
        lifespan=lifespan,
        health=health,
        registry=registry,
        routers=[
            # The stream's route comes first: `/aiops/incidents/stream` is not an incident id.
            stream_router(),
            incidents_router(),
            silences_router(),
            changes_router(),
            record_router(),
            series_router(),
            service_metrics_router(),
            traces_router(),
            demo_faults_router(),
        ],
        docs_paths=("/docs", "/api/docs"),
    )
    install_web_ui(app)
    mark_auth_optional(app, auth_optional(auth))
    # The UI's page and files are not API calls: loading them spends none of a client's budget.
    install_rate_limit(app, unlimited_paths={PAGE_PATH}, unlimited_prefixes=(f"{ASSETS_PREFIX}/",))
    return app


SERVICE = ServiceSpec(
    name="incidents",
    default_port=8000,
    summary="Incidents: correlation, root cause, lifecycle, notifications and the REST API",
    build=lambda shared: create_app(bus=shared.bus, redis=shared.redis, service_urls=shared.service_urls),
    order=5,
)
