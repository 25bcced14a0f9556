"""Run a service app in the test's event loop, lifespan included, with an HTTP client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.support.waiting import eventually


@asynccontextmanager
async def started(app: FastAPI) -> AsyncIterator[ASGIApp]:
    """The app with its lifespan run, as a server runs it: every request gets (a copy of) the
    state the lifespan yielded. For a client or server that does not run lifespans itself."""
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] in ("http", "websocket"):
                scope = {**scope, "state": dict(state or {})}
            await app(scope, receive, send)

        yield with_state


@asynccontextmanager
async def running(app: FastAPI, *, wait_ready: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    async with started(app) as served:
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            if wait_ready:
                await eventually(
                    lambda: client.get("/readyz"), lambda r: r.status_code == 200, what="service ready"
                )
            yield client
