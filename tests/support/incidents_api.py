"""A bare app with some of the incidents API's routers, on the test's database, and an HTTP client
on it: the routes with the platform's error handling and auth, without the consumers and jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

import asyncpg
import httpx
from fastapi import APIRouter, FastAPI

from aiops_core.errors import install_error_handlers
from aiops_incidents.auth import ApiAuth
from aiops_incidents.dependencies import get_auth, get_pool

OPEN = ApiAuth((), read_requires_token=False)


def api_app(
    pool: asyncpg.Pool | None,
    *routers: APIRouter,
    auth: ApiAuth = OPEN,
    overrides: Mapping[Callable[..., object], object] | None = None,
) -> FastAPI:
    """`overrides`: what a dependency of `aiops_incidents.dependencies` gives, besides the pool
    and the auth (e.g. `{get_service: service}`)."""
    app = FastAPI()
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    for dependency, value in {get_pool: pool, get_auth: auth, **(overrides or {})}.items():
        app.dependency_overrides[dependency] = _giving(value)
    return app


def _giving(value: object) -> Callable[[], object]:
    return lambda: value


@asynccontextmanager
async def api_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
