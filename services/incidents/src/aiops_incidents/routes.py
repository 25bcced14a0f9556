"""The incidents API's HTTP handlers: thin, they translate between HTTP and the domain."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field

from aiops_core.errors import ERROR_RESPONSE_SCHEMA, BadRequestError, NotFoundError
from aiops_core.models import AnomalyKind
from aiops_core.validation import IsoDatetime, StoredText
from aiops_incidents.auth import Reader, Writer
from aiops_incidents.clock import Clock, utc_now
from aiops_incidents.live_stats import LiveStats
from aiops_incidents.repository import Cursor, GraphRepository, IncidentFilters, IncidentRepository
from aiops_incidents.schemas import (
    ActionIn,
    AnomalyPage,
    CommentIn,
    IncidentDetail,
    IncidentPage,
    IncidentStatus,
    ServiceGraph,
    ServiceHealth,
    ServiceNode,
    Severity,
)
from aiops_incidents.series.learning import STALE_AFTER
from aiops_incidents.series.repository import SeriesRepository
from aiops_incidents.service import IncidentService

ERRORS: dict[int | str, dict[str, Any]] = {
    code: ERROR_RESPONSE_SCHEMA for code in (400, 401, 403, 404, 409, 422, 429)
}
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page.")]
CursorQuery = Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page.")]


@dataclass(frozen=True)
class IncidentsState:
    service: IncidentService
    incidents: IncidentRepository
    graph: GraphRepository
    live_stats: LiveStats


def get_state(request: Request) -> IncidentsState:
    state: IncidentsState = request.app.state.incidents
    return state


class FailingOperation(BaseModel):
    service: str
    operation: str
    anomalies: int


class LiveCounters(BaseModel):
    counters: dict[str, int] = Field(
        description="Since the platform started keeping them: anomalies, anomalies:<kind>, "
        "incidents_opened, incidents_resolved."
    )
    failing_operations: list[FailingOperation] = Field(
        description="Operations with the most anomalies, most first."
    )


def incidents_router(clock: Clock = utc_now) -> APIRouter:
    router = APIRouter(prefix="/aiops", tags=["incidents"], responses=ERRORS)

    @router.get("/incidents", summary="List incidents, newest first")
    async def list_incidents(
        request: Request,
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
        items = await get_state(request).incidents.page(filters, _decode(cursor), limit + 1)
        more = len(items) > limit
        items = items[:limit]
        return IncidentPage(
            items=items, next_cursor=_encode(items[-1].opened_at, items[-1].id) if more else None
        )

    @router.get(
        "/incidents/{incident_id}",
        summary="One incident: root-cause candidates, evidence, timeline, anomalies",
    )
    async def get_incident(request: Request, incident_id: UUID, _: Reader) -> IncidentDetail:
        return await _detail(get_state(request), incident_id)

    @router.post("/incidents/{incident_id}/ack", summary="Acknowledge an incident (someone is on it)")
    async def acknowledge(
        request: Request, incident_id: UUID, actor: Writer, body: ActionIn | None = None
    ) -> IncidentDetail:
        state = get_state(request)
        await state.service.change_status(
            incident_id, IncidentStatus.ACKNOWLEDGED, actor, body.comment if body else None
        )
        return await _detail(state, incident_id)

    @router.post("/incidents/{incident_id}/resolve", summary="Resolve an incident by hand")
    async def resolve(
        request: Request, incident_id: UUID, actor: Writer, body: ActionIn | None = None
    ) -> IncidentDetail:
        state = get_state(request)
        await state.service.change_status(
            incident_id, IncidentStatus.RESOLVED, actor, body.comment if body else None
        )
        return await _detail(state, incident_id)

    @router.post(
        "/incidents/{incident_id}/comments",
        summary="Comment on an incident",
        status_code=status.HTTP_201_CREATED,
    )
    async def comment(request: Request, incident_id: UUID, body: CommentIn, actor: Writer) -> IncidentDetail:
        state = get_state(request)
        await state.service.comment(incident_id, actor, body.text)
        return await _detail(state, incident_id)

    @router.get("/anomalies", summary="List anomalies received from the detectors, newest first")
    async def list_anomalies(
        request: Request,
        _: Reader,
        status_: Annotated[Literal["open", "cleared"] | None, Query(alias="status")] = None,
        service: Annotated[StoredText | None, Query(max_length=256)] = None,
        since: Annotated[IsoDatetime | None, Query(description="Detected at or after (ISO 8601).")] = None,
        limit: Limit = 50,
        cursor: CursorQuery = None,
    ) -> AnomalyPage:
        is_open = None if status_ is None else status_ == "open"
        items = await get_state(request).incidents.anomalies(
            service=service, is_open=is_open, since=since, after=_decode(cursor), limit=limit + 1
        )
        more = len(items) > limit
        items = items[:limit]
        return AnomalyPage(
            items=items, next_cursor=_encode(items[-1].detected_at, items[-1].id) if more else None
        )

    @router.get(
        "/services",
        summary="The service graph learned from traces, with each service's health",
        description="Each service's health: failing (an open error anomaly), degraded (another open "
        "anomaly), learning (none, but some series of it has not learned its baseline yet, so only "
        "the floors judge it: no opinion yet), or ok.",
    )
    async def services(request: Request, _: Reader) -> ServiceGraph:
        state = get_state(request)
        now = clock()
        edges = await state.graph.edges()
        open_kinds = await state.incidents.open_anomaly_kinds()
        learning = await SeriesRepository(request.app.state.pool).learning(now, since=now - STALE_AFTER)
        remaining: dict[str, float | None] = {}
        for (service, _operation), one in learning.items():
            if one.learning:
                remaining[service] = max(remaining.get(service) or 0.0, one.remaining_s)
            else:
                remaining.setdefault(service, None)
        names = sorted(
            {e.source for e in edges} | {e.target for e in edges} | set(open_kinds) | set(remaining)
        )
        return ServiceGraph(
            services=[_node(name, open_kinds.get(name, []), remaining.get(name)) for name in names],
            edges=edges,
        )

    @router.get("/stats", summary="Live counters and the leaderboard of failing operations")
    async def stats(
        request: Request, _: Reader, limit: Annotated[int, Query(ge=1, le=100)] = 10
    ) -> LiveCounters:
        live = get_state(request).live_stats
        return LiveCounters(
            counters=await live.counters(),
            failing_operations=[
                FailingOperation(service=s, operation=o, anomalies=n)
                for s, o, n in await live.failing_operations(limit)
            ],
        )

    return router


async def _detail(state: IncidentsState, incident_id: UUID) -> IncidentDetail:
    found = await state.incidents.detail(incident_id)
    if found is None:
        raise NotFoundError(f"no incident {incident_id}")
    summary, candidates, impact, timeline, anomalies = found
    return IncidentDetail(
        **summary.model_dump(), candidates=candidates, impact=impact, timeline=timeline, anomalies=anomalies
    )


def _node(service: str, open_kinds: list[AnomalyKind], learning_remaining_s: float | None) -> ServiceNode:
    """`learning_remaining_s`: None when every series of the service has learned."""
    if AnomalyKind.ERROR_RATIO in open_kinds:
        health = ServiceHealth.FAILING
    elif open_kinds:
        health = ServiceHealth.DEGRADED
    elif learning_remaining_s is not None:
        health = ServiceHealth.LEARNING
    else:
        health = ServiceHealth.OK
    return ServiceNode(
        service=service,
        health=health,
        open_anomalies=len(open_kinds),
        learning=learning_remaining_s is not None,
        learning_remaining_s=learning_remaining_s,
    )


def _encode(at: datetime, item_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{item_id}".encode()).decode()


def _decode(cursor: str | None) -> Cursor | None:
    if cursor is None:
        return None
    try:
        at, item_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return Cursor(at=datetime.fromisoformat(at), id=UUID(item_id))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadRequestError("cursor is not one this API gave out") from exc
