"""`/aiops/services/{service}/series`: a service's series, for its charts, and the acceptance of
a lasting change of one of them as normal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from aiops_core.openapi import error_responses
from aiops_core.validation import StoredText
from aiops_incidents.clock import Clock, utc_now
from aiops_incidents.dependencies import API_ERRORS, Incidents, Reader, Series, Writer
from aiops_incidents.series.schemas import Acceptance, AcceptIn, ServiceSeries

ServiceName = Annotated[StoredText, Path(max_length=256, description="A service name, e.g. payment.")]


def series_router(clock: Clock = utc_now) -> APIRouter:
    router = APIRouter(prefix="/aiops", tags=["incidents"], responses=API_ERRORS)

    @router.get(
        "/services/{service}/series",
        summary="A service's operations minute by minute, with their usual range and anomalies",
        description="From the per-minute rollups of the detector: each operation's request rate, "
        "error ratio and p95 latency over the last `minutes` minutes (the one in progress "
        "included), each minute with the band of values usual in the healthy minutes of the hour "
        "before it, the anomalies in force during the period, and whether the operation is still "
        "learning. 404 for a service the platform has never seen.",
        responses=error_responses(404, examples={404: "the platform has no series of a service 'billing'"}),
    )
    async def series(
        reader: Series,
        service: ServiceName,
        _: Reader,
        minutes: Annotated[int, Query(ge=5, le=1440, description="Length of the period.")] = 60,
    ) -> ServiceSeries:
        return await reader.of_service(service, minutes=minutes, now=clock())

    @router.post(
        "/services/{service}/series/accept",
        summary="Accept a lasting change of a series as normal from now on",
        description="For a change that is legitimate (a release that is 20 ms slower by design): the "
        "series' baseline of that kind learns only from now on, its open anomaly of that kind "
        "clears at the detector's next evaluation, and the acceptance is recorded on the timeline "
        "of every unresolved incident with that anomaly. 404 for a series the platform has never seen.",
        status_code=status.HTTP_201_CREATED,
        responses=error_responses(
            400, 404, examples={404: "the platform has no series 'payment' 'POST /refund'"}
        ),
    )
    async def accept(incidents: Incidents, service: ServiceName, body: AcceptIn, actor: Writer) -> Acceptance:
        return await incidents.accept_as_normal(service, body.operation, body.kind, actor, body.comment)

    return router
