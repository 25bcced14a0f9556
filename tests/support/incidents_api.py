"""A bare app with some of the incidents API's routers, on the test's database, and an HTTP client
on it: the routes with the platform's error handling and auth, without the consumers and jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
from fastapi import APIRouter, FastAPI

from aiops_core.errors import install_error_handlers
from aiops_incidents.auth import ApiAuth

OPEN = ApiAuth((), read_requires_token=False)


def api_app(pool: asyncpg.Pool | None, *routers: APIRouter, auth: ApiAuth = OPEN, **state: object) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    app.state.pool = pool
    app.state.auth = auth
    for name, value in state.items():
        setattr(app.state, name, value)
    return app


@asynccontextmanager
async def api_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
