"""A coroutine run every few seconds in the background, surviving its own failures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class PeriodicJob:
    """Runs `run` every `interval_s` seconds (measured start to start, so a slow run does not
    push the schedule) until stopped. A failing run is logged and the next one goes ahead."""

    def __init__(self, name: str, run: Callable[[], Awaitable[object]], *, interval_s: float) -> None:
        self.name = name
        self._run = run
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def _loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self._run()
            except Exception:
                log.exception("%s failed; will run again", self.name)
            await asyncio.sleep(max(0.0, self._interval_s - (time.monotonic() - started)))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
