"""What the incidents API's routes need, each reached through one annotated dependency.

The lifespan yields a `State`; Starlette hands it to every request as `request.state`, and the
`get_*` functions here are its only readers. Repositories are built per request from the pool.
A test that serves some of the routers replaces what it needs with
`app.dependency_overrides[get_pool] = lambda: pool`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypedDict, TypeVar

import asyncpg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aiops_core.openapi import error_responses
from aiops_core.ratelimit import RateLimiter
from aiops_incidents.auth import ApiAuth, Scope
from aiops_incidents.changes.repository import ChangeRepository
from aiops_incidents.demo_faults.client import DemoShop
from aiops_incidents.live_stats import LiveStats
from aiops_incidents.notifications.channel import NotificationChannel
from aiops_incidents.notifications.silences.repository import SilenceRepository
from aiops_incidents.rca.repository import TraceRepository
from aiops_incidents.record.repository import RecordRepository
from aiops_incidents.repository import GraphRepository, IncidentRepository
from aiops_incidents.series.repository import SeriesRepository
from aiops_incidents.series.service import SeriesReader
from aiops_incidents.service import IncidentService
from aiops_incidents.service_metrics.service import MetricReader


class State(TypedDict):
    auth: ApiAuth
    rate_limiter: RateLimiter
    pool: asyncpg.Pool
    service: IncidentService
    live_stats: LiveStats
    notifications: NotificationChannel
    demo_shop: DemoShop


def get_auth(request: Request) -> ApiAuth:
    auth: ApiAuth = request.state.auth
    return auth


def get_pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.state.pool
    return pool


def get_service(request: Request) -> IncidentService:
    service: IncidentService = request.state.service
    return service


def get_live_stats(request: Request) -> LiveStats:
    live_stats: LiveStats = request.state.live_stats
    return live_stats


def get_notifications(request: Request) -> NotificationChannel:
    channel: NotificationChannel = request.state.notifications
    return channel


def get_demo_shop(request: Request) -> DemoShop:
    shop: DemoShop = request.state.demo_shop
    return shop


Pool = Annotated[asyncpg.Pool, Depends(get_pool)]
Incidents = Annotated[IncidentService, Depends(get_service)]
Stats = Annotated[LiveStats, Depends(get_live_stats)]
Notifications = Annotated[NotificationChannel, Depends(get_notifications)]
Shop = Annotated[DemoShop, Depends(get_demo_shop)]


R = TypeVar("R")


def _repository(kind: Callable[[asyncpg.Pool], R]) -> object:
    def build(pool: Pool) -> R:
        return kind(pool)

    return Depends(build)


IncidentStore = Annotated[IncidentRepository, _repository(IncidentRepository)]
GraphStore = Annotated[GraphRepository, _repository(GraphRepository)]
SeriesStore = Annotated[SeriesRepository, _repository(SeriesRepository)]
Series = Annotated[SeriesReader, _repository(SeriesReader)]
TraceStore = Annotated[TraceRepository, _repository(TraceRepository)]
Metrics = Annotated[MetricReader, _repository(MetricReader)]
RecordStore = Annotated[RecordRepository, _repository(RecordRepository)]
SilenceStore = Annotated[SilenceRepository, _repository(SilenceRepository)]
ChangeStore = Annotated[ChangeRepository, _repository(ChangeRepository)]


_bearer = HTTPBearer(auto_error=False, description="A token from AIOPS_API_TOKENS (name:secret:scope).")


def _requires(needed: Scope) -> Callable[..., str]:
    """A dependency that checks the request's token for `needed` and returns the actor's name."""

    def check(
        auth: Annotated[ApiAuth, Depends(get_auth)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> str:
        return auth.authorise(credentials.credentials if credentials else None, needed)

    return check


# What any route of the API can answer besides its own errors: no or the wrong token, a request
# that does not validate, a client over its rate limit.
API_ERRORS = error_responses(401, 403, 422, 429)

Reader = Annotated[str, Depends(_requires(Scope.READ))]
Writer = Annotated[str, Depends(_requires(Scope.WRITE))]
