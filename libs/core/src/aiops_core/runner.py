"""Run several apps (and background work) in one process, start them in order and stop them in
the reverse order, on SIGINT or SIGTERM.

`aiops serve` runs one app (or a group) with it, `aiops up` the whole platform. Stopping in
reverse order is what makes the all-in-one mode lose nothing: the load generator stops first,
then the shop flushes its spans to ingest, ingest flushes its batches, and the writer goes last.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import uvicorn
from fastapi import FastAPI

from aiops_core.components import Component

log = logging.getLogger(__name__)


class StartupFailedError(Exception):
    pass


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the runner, which stops every server in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


Stop = Callable[[], Awaitable[None]]


class ProcessRunner:
    def __init__(self, *, graceful_timeout_s: int = 30, stuck_after_s: float | None = None) -> None:
        self._graceful_timeout_s = graceful_timeout_s
        # Every step of a stop is bounded by the graceful timeout; one that outlasts it is a bug.
        self._stuck_after_s = graceful_timeout_s + 5 if stuck_after_s is None else stuck_after_s
        # What has started, in order, each with the way to stop it.
        self._started: list[tuple[str, Stop]] = []
        self._stop = asyncio.Event()

    async def start_app(self, name: str, app: FastAPI, host: str, port: int) -> None:
        """Start serving `app` and return once it is listening (its lifespan has run)."""
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=self._graceful_timeout_s,
        )
        server = _Server(config)
        task = asyncio.create_task(self._serve(server), name=f"serve-{name}")
        while not server.started:
            if task.done():
                raise StartupFailedError(f"{name} failed to start (see the log above)")
            await asyncio.sleep(0.02)

        async def stop() -> None:
            stopping = getattr(app.state, "stopping", None)
            if isinstance(stopping, asyncio.Event):
                stopping.set()
            server.should_exit = True
            await task

        self._started.append((name, stop))
        task.add_done_callback(lambda _: self._stop.set())  # a server that dies takes all down

    @staticmethod
    async def _serve(server: _Server) -> None:
        try:
            await server.serve()
        except SystemExit:  # uvicorn's way of saying the lifespan failed at start-up
            log.error("server stopped at start-up")

    async def start_background(self, name: str, work: Component) -> None:
        await work.start()
        self._started.append((name, work.stop))

    def add_step(self, name: str, on_stop: Stop) -> None:
        """Run `on_stop` when stopping reaches this point of the start order."""
        self._started.append((name, on_stop))

    async def run_until_signalled(self) -> None:
        """Serve until SIGINT or SIGTERM; called once everything has started."""
        tune_gc_for_serving()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        try:
            await self._stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    async def stop_all(self) -> None:
        while self._started:
            name, stop = self._started.pop()
            log.info("stopping %s", name)
            watchdog = asyncio.create_task(self._report_if_stuck(name, time.monotonic()))
            try:
                await stop()
            except Exception:
                log.exception("%s failed to stop cleanly", name)
            finally:
                watchdog.cancel()

    async def _report_if_stuck(self, name: str, since: float) -> None:
        """A stop that hangs ends in the orchestrator's kill, which does not say where it hung: log
        what every task is waiting on, every `stuck_after_s` until it ends."""
        while True:
            await asyncio.sleep(self._stuck_after_s)
            log.error(
                "still stopping %s after %.0f s",
                name,
                time.monotonic() - since,
                extra={"tasks": _task_stacks()},
            )


def tune_gc_for_serving() -> None:
    """Start-up's objects (modules, apps, clients) live as long as the process: frozen, so that no
    collection scans them again. Handling a batch of spans allocates tens of thousands of objects
    that reference counting frees; collecting the young generation every 50,000 allocations rather
    than every 700 spares ~10% of ingest's CPU and still catches cycles within a request or two."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _task_stacks() -> str:
    """Where each pending task of this loop is waiting: its chain of awaits, outermost first
    (`Task.print_stack` shows only the outermost coroutine)."""
    lines = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task():
            continue
        lines.append(f"task {task.get_name()}:")
        awaited: Any = task.get_coro()
        while awaited is not None:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            if frame is not None:
                code = frame.f_code
                lines.append(f"  {code.co_qualname} ({code.co_filename}:{frame.f_lineno})")
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return "\n".join(lines)
