"""The detector app: its factory and lifespan. It runs the span writer and the storage
maintenance job, and serves health, metrics and docs on its port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from aiops_core.app import ServiceSpec, create_service_app
from aiops_core.bus import Bus
from aiops_core.bus.topology import SPAN_STORE_QUEUE
from aiops_core.clients import create_bus, create_store
from aiops_core.observability.health import HealthChecks
from aiops_core.observability.metrics import create_registry
from aiops_core.observability.queue_depth import QueueDepthMonitor
from aiops_core.store import Backend, current_backend, ping
from aiops_detector.consumers import SpanWriterConsumer
from aiops_detector.maintenance import RetentionPolicy, SpanMaintenanceJob
from aiops_detector.metrics import WriterMetrics
from aiops_detector.repository import SpanRepository
from aiops_detector.settings import DetectorSettings

DESCRIPTION = """\
Consumes span batches from the bus and writes them to the store with COPY, exactly once: each
batch's id is committed with its rows, so a redelivered batch is skipped. Keeps span storage
within its retention age. This port serves only health, metrics and these docs.
"""


def create_app(settings: DetectorSettings | None = None, bus: Bus | None = None) -> FastAPI:
    settings = settings or DetectorSettings()
    registry = create_registry()
    metrics = WriterMetrics(registry)
    health = HealthChecks()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_store(settings, application_name="aiops-detector")
        owned_bus = bus is None
        active_bus = bus or create_bus(settings, connection_name="aiops-detector")
        try:
            backend = await current_backend(pool)
            repository = SpanRepository(pool, partitioned=backend is Backend.POSTGRES)
            maintenance = SpanMaintenanceJob(
                pool,
                repository,
                backend,
                RetentionPolicy(
                    retention=timedelta(days=settings.spans_retention_days),
                    partitions_ahead_days=settings.partition_ahead_days,
                    compress_after=timedelta(hours=settings.compress_after_hours),
                ),
                interval_s=settings.maintenance_interval_s,
            )
            await maintenance.start()
            if owned_bus:
                await active_bus.start()
            writer = SpanWriterConsumer(active_bus, repository, metrics, prefetch=settings.broker_prefetch)
            await writer.start()
            queue_depth = QueueDepthMonitor(
                active_bus, [SPAN_STORE_QUEUE.name, SPAN_STORE_QUEUE.dead_letter_queue], registry
            )
            queue_depth.start()
            health.add("broker", active_bus.ping)
            health.add("store", lambda: ping(pool))
            try:
                yield
            finally:
                await writer.stop()
                await queue_depth.stop()
                await maintenance.stop()
        finally:
            if owned_bus:
                await active_bus.close()
            await pool.close()

    return create_service_app(
        title="AIOps detector",
        description=DESCRIPTION,
        lifespan=lifespan,
        health=health,
        registry=registry,
    )


SERVICE = ServiceSpec(
    name="detector",
    default_port=8001,
    summary="Span writer (and, later, anomaly detection)",
    build=lambda shared: create_app(bus=shared.bus),
    order=10,
)
