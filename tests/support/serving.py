"""Serve an ASGI app over real HTTP on a free local port, in the test's event loop: for what
httpx's ASGITransport cannot do (it buffers a streamed response whole), and for receivers that a
service under test calls."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp

from tests.support.processes import free_port
from tests.support.waiting import eventually


class _Server(uvicorn.Server):
    """Leaves the test runner's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class LocalServer:
    def __init__(self, app: ASGIApp, *, graceful_timeout_s: int = 5) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = _Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_config=None,
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=graceful_timeout_s,
            )
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        await eventually(lambda: self.server.started or self.task.done(), timeout_s=10, what="server started")
        if self.task.done():
            raise AssertionError(f"server did not start: {self.task.exception()!r}")

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


@asynccontextmanager
async def serving(app: ASGIApp, *, graceful_timeout_s: int = 5) -> AsyncIterator[LocalServer]:
    server = LocalServer(app, graceful_timeout_s=graceful_timeout_s)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
