"""`GET /aiops/services/{service}/series`: a service's series, for its charts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from aiops_core.validation import StoredText
from aiops_incidents.auth import Reader
from aiops_incidents.clock import Clock, utc_now
from aiops_incidents.routes import ERRORS
from aiops_incidents.series.schemas import ServiceSeries
from aiops_incidents.series.service import SeriesReader


def series_router(clock: Clock = utc_now) -> APIRouter:
    router = APIRouter(prefix="/aiops", tags=["incidents"], responses=ERRORS)

    @router.get(
        "/services/{service}/series",
        summary="A service's operations minute by minute, with their usual range and anomalies",
        description="From the per-minute rollups of the detector: each operation's request rate, "
        "error ratio and p95 latency over the last `minutes` minutes (the one in progress "
        "included), each minute with the band of values usual in the hour before it, and the "
        "anomalies in force during the period. 404 for a service the platform has never seen.",
    )
    async def series(
        request: Request,
        service: Annotated[StoredText, Path(max_length=256, description="A service name, e.g. payment.")],
        _: Reader,
        minutes: Annotated[int, Query(ge=5, le=1440, description="Length of the period.")] = 60,
    ) -> ServiceSeries:
        reader = SeriesReader(request.app.state.pool)
        return await reader.of_service(service, minutes=minutes, now=clock())

    return router
