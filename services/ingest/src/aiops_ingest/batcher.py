"""Coalesce the items (spans, metric points, log records) of concurrent requests into bus messages
of hundreds of items.

A request's call to `submit` returns only once every item it handed in is in a message the
broker confirmed, so ingest never answers 2xx for items it could still lose. A batch is
published as soon as it holds `max_items`, or `linger_s` after its first item arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Batcher(Generic[T]):
    def __init__(
        self, publish: Callable[[list[T]], Awaitable[None]], *, max_items: int, linger_s: float
    ) -> None:
        self._publish = publish
        self._max_items = max_items
        self._linger_s = linger_s
        self._pending: list[T] = []
        self._pending_done: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._publishing: set[asyncio.Task[None]] = set()

    async def submit(self, items: Sequence[T]) -> None:
        """Return once all `items` are confirmed by the broker; raise if any could not be."""
        waits: list[asyncio.Future[None]] = []
        offset = 0
        while offset < len(items):
            if self._pending_done is None:
                self._pending_done = asyncio.get_running_loop().create_future()
                # Marks the outcome as seen even when every requester has gone away.
                self._pending_done.add_done_callback(_consume_outcome)
            room = self._max_items - len(self._pending)
            self._pending.extend(items[offset : offset + room])
            offset += room
            waits.append(self._pending_done)
            if len(self._pending) >= self._max_items:
                self._flush()
            elif self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self._linger_s, self._flush)
        # Shielded: one client going away must not cancel a batch that others share.
        results = await asyncio.gather(*(asyncio.shield(w) for w in waits), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending or self._pending_done is None:
            return
        items, done = self._pending, self._pending_done
        self._pending, self._pending_done = [], None
        task = asyncio.create_task(self._publish_batch(items, done))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish_batch(self, items: list[T], done: asyncio.Future[None]) -> None:
        try:
            await self._publish(items)
        except Exception as exc:
            done.set_exception(exc)
        else:
            done.set_result(None)

    async def close(self) -> None:
        """Publish what is pending and wait for every publish in flight."""
        self._flush()
        if self._publishing:
            await asyncio.wait(self._publishing)


def _consume_outcome(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
