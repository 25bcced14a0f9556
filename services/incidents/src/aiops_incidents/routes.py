"""The incidents API's HTTP handlers: thin, they translate between HTTP and the domain."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, status

from aiops_core.errors import NotFoundError
from aiops_core.openapi import error_responses
from aiops_core.pagination import Cursor, CursorQuery, Limit
from aiops_core.validation import IsoDatetime, StoredText
from aiops_incidents.clock import Clock, utc_now
from aiops_incidents.dependencies import (
    API_ERRORS,
    GraphStore,
    Incidents,
    IncidentStore,
    Reader,
    SeriesStore,
    Stats,
    Writer,
)
from aiops_incidents.repository import IncidentFilters, IncidentRepository
from aiops_incidents.schemas import (
    ActionIn,
    AnomalyPage,
    CommentIn,
    FailingOperation,
    IncidentDetail,
    IncidentPage,
    IncidentStatus,
    LiveCounters,
    ServiceGraph,
    Severity,
)
from aiops_incidents.series.learning import STALE_AFTER
from aiops_incidents.service_map import service_map

_NO_INCIDENT = error_responses(404)
_ACTION_ERRORS = error_responses(
    400, 404, 409, examples={409: "the incident is resolved; it cannot be acknowledged"}
)


def incidents_router(clock: Clock = utc_now) -> APIRouter:
    router = APIRouter(prefix="/aiops", tags=["incidents"], responses=API_ERRORS)

    @router.get("/incidents", summary="List incidents, newest first")
    async def list_incidents(
        incidents: IncidentStore,
        _: Reader,
        status_: Annotated[IncidentStatus | None, Query(alias="status")] = None,
        severity: Severity | None = None,
        service: Annotated[
            StoredText | None, Query(max_length=256, description="Has an anomaly on this service.")
        ] = None,
        since: Annotated[IsoDatetime | None, Query(description="Opened at or after (ISO 8601).")] = None,
        until: Annotated[IsoDatetime | None, Query(description="Opened before (ISO 8601).")] = None,
        limit: Limit = 50,
        cursor: CursorQuery = None,
    ) -> IncidentPage:
        filters = IncidentFilters(
            status=status_, severity=severity, service=service, since=since, until=until
        )
        items = await incidents.page(filters, Cursor.decode(cursor), limit + 1)
        return IncidentPage.of(items, limit, lambda i: Cursor(i.opened_at, i.id))

    @router.get(
        "/incidents/{incident_id}",
        summary="One incident: root-cause candidates, evidence, timeline, anomalies",
        responses=_NO_INCIDENT,
    )
    async def get_incident(incidents: IncidentStore, incident_id: UUID, _: Reader) -> IncidentDetail:
        return await _detail(incidents, incident_id)

    @router.post(
        "/incidents/{incident_id}/ack",
        summary="Acknowledge an incident (someone is on it)",
        responses=_ACTION_ERRORS,
    )
    async def acknowledge(
        service: Incidents, incident_id: UUID, actor: Writer, body: ActionIn | None = None
    ) -> IncidentDetail:
        comment = body.comment if body else None
        await service.change_status(incident_id, IncidentStatus.ACKNOWLEDGED, actor, comment)
        return await _detail(service.incidents, incident_id)

    @router.post(
        "/incidents/{incident_id}/resolve", summary="Resolve an incident by hand", responses=_ACTION_ERRORS
    )
    async def resolve(
        service: Incidents, incident_id: UUID, actor: Writer, body: ActionIn | None = None
    ) -> IncidentDetail:
        comment = body.comment if body else None
        await service.change_status(incident_id, IncidentStatus.RESOLVED, actor, comment)
        return await _detail(service.incidents, incident_id)

    @router.post(
        "/incidents/{incident_id}/comments",
        summary="Comment on an incident",
        status_code=status.HTTP_201_CREATED,
        responses=error_responses(400, 404),
    )
    async def comment(
        service: Incidents, incident_id: UUID, body: CommentIn, actor: Writer
    ) -> IncidentDetail:
        await service.comment(incident_id, actor, body.text)
        return await _detail(service.incidents, incident_id)

    @router.get("/anomalies", summary="List anomalies received from the detectors, newest first")
    async def list_anomalies(
        incidents: IncidentStore,
        _: Reader,
        status_: Annotated[Literal["open", "cleared"] | None, Query(alias="status")] = None,
        service: Annotated[StoredText | None, Query(max_length=256)] = None,
        since: Annotated[IsoDatetime | None, Query(description="Detected at or after (ISO 8601).")] = None,
        limit: Limit = 50,
        cursor: CursorQuery = None,
    ) -> AnomalyPage:
        is_open = None if status_ is None else status_ == "open"
        items = await incidents.anomalies(
            service=service, is_open=is_open, since=since, after=Cursor.decode(cursor), limit=limit + 1
        )
        return AnomalyPage.of(items, limit, lambda a: Cursor(a.detected_at, a.id))

    @router.get(
        "/services",
        summary="The service graph learned from traces, with each service's health",
        description="Each service's health: failing (an open error anomaly), degraded (another open "
        "anomaly), learning (none, but some series of it has not learned its baseline yet, so only "
        "the floors judge it: no opinion yet), or ok.",
    )
    async def services(
        incidents: IncidentStore, graph: GraphStore, series: SeriesStore, _: Reader
    ) -> ServiceGraph:
        now = clock()
        return service_map(
            await graph.edges(),
            await incidents.open_anomaly_kinds(),
            await series.learning(now, since=now - STALE_AFTER),
        )

    @router.get("/stats", summary="Live counters and the leaderboard of failing operations")
    async def stats(live: Stats, _: Reader, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> LiveCounters:
        return LiveCounters(
            counters=await live.counters(),
            failing_operations=[
                FailingOperation(service=s, operation=o, anomalies=n)
                for s, o, n in await live.failing_operations(limit)
            ],
        )

    return router


async def _detail(incidents: IncidentRepository, incident_id: UUID) -> IncidentDetail:
    detail = await incidents.detail(incident_id)
    if detail is None:
        raise NotFoundError(f"no incident {incident_id}")
    return detail
