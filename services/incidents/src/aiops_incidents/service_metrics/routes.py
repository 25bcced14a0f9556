"""`GET /aiops/services/{service}/metrics`: the metric series a service sends, with their latest
values and their minutes, for its series page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aiops_incidents.clock import Clock, utc_now
from aiops_incidents.dependencies import API_ERRORS, Metrics, Reader
from aiops_incidents.series.routes import ServiceName
from aiops_incidents.service_metrics.schemas import ServiceMetrics


def service_metrics_router(clock: Clock = utc_now) -> APIRouter:
    router = APIRouter(prefix="/aiops", tags=["metrics"], responses=API_ERRORS)

    @router.get(
        "/services/{service}/metrics",
        summary="A service's metric series, with their latest values and their minutes",
        description="Every metric series the service sends over OTLP (up to `limit`, by name): its "
        "latest value and its values minute by minute over the last `minutes` minutes. Counters, "
        "histograms and summaries are stored as deltas and read as per-second rates; gauges and "
        "levels as they were read. An empty list for a service that sends no metrics.",
    )
    async def metrics(
        reader: Metrics,
        service: ServiceName,
        _: Reader,
        minutes: Annotated[int, Query(ge=5, le=1440, description="Length of the period.")] = 60,
        limit: Annotated[int, Query(ge=1, le=500, description="Most series returned.")] = 100,
    ) -> ServiceMetrics:
        return await reader.of_service(service, minutes=minutes, limit=limit, now=clock())

    return router
