"""The in-process bus: the same interface and delivery rules as the RabbitMQ bus, for the
all-in-one mode and for unit tests of pure logic. Nothing survives the process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aiops_core.bus.base import (
    BrokerUnavailableError,
    Handler,
    IncomingMessage,
    Outcome,
    RetryBackoff,
    run_handler,
)
from aiops_core.bus.routing import topic_matches
from aiops_core.bus.topology import (
    ALL_QUEUES,
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_ONLY_QUEUES,
    DEAD_LETTER_REASON_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    QueueSpec,
)


@dataclass
class _MemoryQueue:
    spec: QueueSpec
    messages: asyncio.Queue[IncomingMessage] = field(default_factory=asyncio.Queue)
    dead_letters: list[IncomingMessage] = field(default_factory=list)


class InMemoryBus:
    def __init__(self, queues: Sequence[QueueSpec] = ALL_QUEUES) -> None:
        self._queues = {spec.name: _MemoryQueue(spec) for spec in (*queues, *DEAD_LETTER_ONLY_QUEUES)}
        self._running = False

    async def start(self) -> None:
        self._running = True

    async def close(self) -> None:
        self._running = False

    async def ping(self) -> None:
        if not self._running:
            raise BrokerUnavailableError("in-process bus is not running")

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        content_type: str = "application/json",
        headers: dict[str, Any] | None = None,
    ) -> None:
        await self.ping()
        message = IncomingMessage(
            body=body,
            routing_key=routing_key,
            message_id=message_id,
            content_type=content_type,
            headers=dict(headers or {}),
        )
        if exchange == DEAD_LETTER_EXCHANGE:
            # A direct exchange, as on RabbitMQ: the routing key names the queue whose
            # dead-letter queue keeps the message.
            if routing_key not in self._queues:
                raise BrokerUnavailableError(f"no dead-letter queue is bound for {routing_key!r}")
            self._queues[routing_key].dead_letters.append(message)
            return
        targets = [
            q
            for q in self._queues.values()
            if q.spec.exchange == exchange
            and any(topic_matches(key, routing_key) for key in q.spec.binding_keys)
        ]
        if not targets:
            raise BrokerUnavailableError(f"no queue is bound for {routing_key!r}")
        for queue in targets:
            queue.messages.put_nowait(message)

    async def consume(self, queue: QueueSpec, handler: Handler, *, prefetch: int) -> MemorySubscription:
        subscription = MemorySubscription(self._queues[queue.name], handler, prefetch)
        subscription.begin()
        return subscription

    async def queue_depth(self, queue_name: str) -> int:
        for queue in self._queues.values():
            if queue_name == queue.spec.name:
                return queue.messages.qsize()
            if queue_name == queue.spec.dead_letter_queue:
                return len(queue.dead_letters)
        raise KeyError(queue_name)

    async def wait_until_empty(self, timeout_s: float) -> None:
        """Wait (at most `timeout_s`) until every message published has been handled."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(q.messages.join() for q in self._queues.values())), timeout_s
            )

    def dead_letters(self, queue_name: str) -> list[IncomingMessage]:
        return list(self._queues[queue_name].dead_letters)


class MemorySubscription:
    def __init__(self, queue: _MemoryQueue, handler: Handler, prefetch: int) -> None:
        self._queue = queue
        self._handler = handler
        self._slots = asyncio.Semaphore(prefetch)
        self._reader: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._backoff = RetryBackoff()

    def begin(self) -> None:
        self._reader = asyncio.create_task(self._read(), name=f"consume-{self._queue.spec.name}")

    async def _read(self) -> None:
        while True:
            await self._slots.acquire()
            message = await self._queue.messages.get()
            task = asyncio.create_task(self._process(message))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _process(self, message: IncomingMessage) -> None:
        try:
            outcome, reason = await run_handler(self._handler, message)
            if outcome is Outcome.ACK:
                self._backoff.reset()
            elif outcome is Outcome.DEAD_LETTER:
                headers = {
                    **message.headers,
                    DEAD_LETTER_REASON_HEADER: reason or "unknown",
                    ORIGINAL_ROUTING_KEY_HEADER: message.routing_key,
                }
                self._queue.dead_letters.append(replace(message, headers=headers))
            else:
                await asyncio.sleep(self._backoff.next_delay())
                self._queue.messages.put_nowait(replace(message, redelivered=True))
        finally:
            self._queue.messages.task_done()
            self._slots.release()

    async def stop(self, timeout_s: float = 30.0) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=timeout_s)
