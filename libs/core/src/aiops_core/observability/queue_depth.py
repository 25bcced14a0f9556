"""Consumer lag in messages: the depth of the queues a service consumes, sampled periodically
into a gauge (Prometheus cannot await the broker at scrape time)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Gauge

from aiops_core.bus import BrokerUnavailableError, Bus

log = logging.getLogger(__name__)


class QueueDepthMonitor:
    def __init__(
        self, bus: Bus, queue_names: Sequence[str], registry: CollectorRegistry, interval_s: float = 5.0
    ) -> None:
        self._bus = bus
        self._queue_names = tuple(queue_names)
        self._interval_s = interval_s
        self._gauge = Gauge(
            "aiops_queue_messages",
            "Messages ready in a queue (consumer lag; on a .dlq queue, dead-lettered messages).",
            ["queue"],
            registry=registry,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="queue-depth-monitor")

    async def sample(self) -> None:
        for name in self._queue_names:
            try:
                self._gauge.labels(name).set(await self._bus.queue_depth(name))
            except BrokerUnavailableError:
                return  # the readiness check reports the broker; keep the last value

    async def _run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self._interval_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
