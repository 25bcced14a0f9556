"""The detector app: its factory and lifespan. It runs the writers, the storage
maintenance job and the detection (windows, rollups, evaluation), and serves health, metrics
and docs on its port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from aiops_core.app import ServiceSpec, create_service_app
from aiops_core.bus import Bus
from aiops_core.bus.topology import LOG_STORE_QUEUE, METRIC_STORE_QUEUE, SPAN_DETECT_QUEUE, SPAN_STORE_QUEUE
from aiops_core.cache import Cache
from aiops_core.clients import store_bus_and_cache
from aiops_core.components import Component, running
from aiops_core.observability.health import HealthChecks
from aiops_core.observability.metrics import create_registry
from aiops_core.observability.queue_depth import QueueDepthMonitor
from aiops_core.store import Backend, current_backend
from aiops_core.store.partitions import LOG_RECORDS, METRIC_POINTS, SPANS
from aiops_detector.detection.runtime import DetectionRuntime
from aiops_detector.settings import DetectorSettings
from aiops_detector.writer.consumer import LogWriterConsumer, MetricWriterConsumer, SpanWriterConsumer
from aiops_detector.writer.log_repository import LogRecordRepository
from aiops_detector.writer.maintenance import RetentionPolicy, TelemetryMaintenanceJob
from aiops_detector.writer.metric_repository import MetricPointRepository
from aiops_detector.writer.metrics import WriterMetrics
from aiops_detector.writer.repository import SpanRepository

DESCRIPTION = """\
Consumes batches of spans, metric points and log records from the bus and writes them to the
store, exactly once: each batch's id is committed with its rows, so a redelivered batch is
skipped. Turns cumulative metric points into deltas and caps the series of each metric. Keeps
the stored telemetry within its retention ages.

Also merges every batch into per-series windows in Redis, rolls request spans up per minute,
and every few seconds judges each series' recent window against its baseline, publishing
anomalies to the `anomalies` exchange. This port serves only health, metrics and these docs.
"""


def create_app(
    settings: DetectorSettings | None = None, bus: Bus | None = None, redis: Cache | None = None
) -> FastAPI:
    settings = settings or DetectorSettings()
    registry = create_registry()
    metrics = WriterMetrics(registry)
    health = HealthChecks()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with store_bus_and_cache(settings, name="aiops-detector", bus=bus, redis=redis) as clients:
            backend = await current_backend(clients.pool)
            partitioned = backend is Backend.POSTGRES
            spans = SpanRepository(clients.pool, partitioned=partitioned)
            points = MetricPointRepository(
                clients.pool, partitioned=partitioned, series_limit=settings.metric_series_limit
            )
            logs = LogRecordRepository(clients.pool, partitioned=partitioned)
            maintenance = TelemetryMaintenanceJob(
                clients.pool,
                [spans, points, logs],
                backend,
                RetentionPolicy(
                    retention={
                        SPANS: timedelta(days=settings.spans_retention_days),
                        METRIC_POINTS: timedelta(days=settings.metrics_retention_days),
                        LOG_RECORDS: timedelta(days=settings.logs_retention_days),
                    },
                    partitions_ahead_days=settings.partition_ahead_days,
                    compress_after=timedelta(hours=settings.compress_after_hours),
                ),
                interval_s=settings.maintenance_interval_s,
            )
            queues = [SPAN_STORE_QUEUE, SPAN_DETECT_QUEUE, METRIC_STORE_QUEUE, LOG_STORE_QUEUE]
            queue_depth = QueueDepthMonitor(
                clients.bus, [name for q in queues for name in (q.name, q.dead_letter_queue)], registry
            )
            prefetch = settings.broker_prefetch
            writers: list[Component] = [
                SpanWriterConsumer(clients.bus, spans, metrics, prefetch=prefetch),
                MetricWriterConsumer(clients.bus, points, metrics, prefetch=prefetch),
                LogWriterConsumer(clients.bus, logs, metrics, prefetch=prefetch),
            ]
            # Built even when disabled, so that its metrics are always exported.
            detection = DetectionRuntime(settings, clients.pool, clients.redis, clients.bus, registry)
            # Stopped in reverse: detection first, then the writers, the queue monitor and last the
            # maintenance job, whose first run (partitions, TimescaleDB policies) the writers need.
            components: list[Component] = [
                *([maintenance] if settings.span_writer_enabled else []),
                queue_depth,
                *(writers if settings.span_writer_enabled else []),
                *(detection.components if settings.detection_enabled else []),
            ]
            async with running(components):
                clients.add_health_checks(health)
                yield

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
    summary="Span writer, per-series windows, baselines and anomaly detectors",
    build=lambda shared: create_app(bus=shared.bus, redis=shared.redis),
    order=10,
)
