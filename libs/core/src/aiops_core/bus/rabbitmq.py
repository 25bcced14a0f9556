"""The bus on RabbitMQ, through aio-pika.

- One robust connection (aio-pika reconnects and restores exchanges, queues and consumers).
- A publish channel in confirm mode: `publish` returns only once the broker has the message,
  and raises when the message is nacked, unroutable (mandatory) or not confirmed in time.
- Durable topic exchanges, durable queues (quorum by default) each with a dead-letter queue;
  persistent messages; one channel per consumer with a bounded prefetch; explicit acks.
- Connecting happens in the background, so a service starts (and reports itself not ready)
  while the broker is away, and publishing answers "unavailable" instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
    DeliveryMode,
    ExchangeType,
)

from aiops_core.bus.base import (
    BrokerUnavailableError,
    Handler,
    IncomingMessage,
    Outcome,
    RetryBackoff,
    run_handler,
)
from aiops_core.bus.topology import (
    ALL_QUEUES,
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_ONLY_QUEUES,
    DEAD_LETTER_REASON_HEADER,
    EXCHANGES,
    ORIGINAL_ROUTING_KEY_HEADER,
    QueueSpec,
)
from aiops_core.settings import QueueType
from aiops_core.urls import redact

log = logging.getLogger(__name__)

# How long closing a channel or the connection may take before it is abandoned.
CLOSE_TIMEOUT_S = 5.0

# Failures that mean "the broker is not there or not answering", as opposed to a bug.
_BROKER_ERRORS = (
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
    asyncio.TimeoutError,
    ConnectionError,
    OSError,
)


def queue_arguments(spec: QueueSpec, queue_type: QueueType, delivery_limit: int) -> dict[str, Any]:
    args: dict[str, Any] = {
        "x-queue-type": queue_type.value,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": spec.name,
    }
    if queue_type is QueueType.QUORUM:
        # A message that kills its consumer every time ends on the dead-letter queue
        # instead of being redelivered forever.
        args["x-delivery-limit"] = delivery_limit
    return args


class RabbitBus:
    def __init__(
        self,
        url: str,
        *,
        queue_type: QueueType = QueueType.QUORUM,
        delivery_limit: int = 10,
        publish_timeout_s: float = 5.0,
        connection_name: str = "aiops",
        queues: Sequence[QueueSpec] = ALL_QUEUES,
    ) -> None:
        self._url = url
        self._queue_type = queue_type
        self._delivery_limit = delivery_limit
        self._publish_timeout_s = publish_timeout_s
        self._connection_name = connection_name
        self._queues = tuple(queues)
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._connected = asyncio.Event()
        self._connect_task: asyncio.Task[None] | None = None
        self._last_error = "not connected yet"
        self._pending: list[RabbitSubscription] = []

    async def start(self) -> None:
        self._connect_task = asyncio.create_task(self._connect_until_up(), name="rabbitmq-connect")

    async def wait_connected(self, timeout_s: float) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout_s)

    async def close(self) -> None:
        if self._connect_task is not None:
            self._connect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connect_task
        if self._connection is not None:
            with contextlib.suppress(*_BROKER_ERRORS):
                # Bounded: a broker that stopped answering must not hold the process open.
                await asyncio.wait_for(self._connection.close(), CLOSE_TIMEOUT_S)
        self._connected.clear()

    async def _connect_until_up(self) -> None:
        delay_s = 0.5
        while True:
            try:
                await self._connect()
                return
            except aiormq.exceptions.ChannelPreconditionFailed as exc:
                # Not an outage: a queue exists with other arguments, typically another type.
                self._last_error = f"queue declared with other arguments: {exc}"
                log.error(
                    "a queue exists with other arguments; delete it or set AIOPS_QUEUE_TYPE to match it",
                    extra={"url": redact(self._url), "error": str(exc), "retry_in_s": delay_s},
                )
            except _BROKER_ERRORS as exc:
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "broker not reachable, retrying",
                    extra={"url": redact(self._url), "error": self._last_error, "retry_in_s": delay_s},
                )
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 10.0)

    async def _connect(self) -> None:
        connection = await aio_pika.connect_robust(
            self._url, timeout=10, client_properties={"connection_name": self._connection_name}
        )
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            await self._declare_topology(channel)
        except BaseException:
            await connection.close()
            raise
        self._connection, self._publish_channel = connection, channel
        self._connected.set()
        log.info("connected to broker", extra={"url": redact(self._url)})
        for subscription in self._pending:
            await subscription.begin(connection)
        self._pending.clear()

    async def _declare_topology(self, channel: AbstractChannel) -> None:
        dead_letter = await channel.declare_exchange(DEAD_LETTER_EXCHANGE, ExchangeType.DIRECT, durable=True)
        for name in EXCHANGES:
            self._exchanges[name] = await channel.declare_exchange(name, ExchangeType.TOPIC, durable=True)
        self._exchanges[DEAD_LETTER_EXCHANGE] = dead_letter
        for spec in self._queues:
            queue = await self.declare_work_queue(channel, spec)
            for key in spec.binding_keys:
                await queue.bind(spec.exchange, key)
        for spec in (*self._queues, *DEAD_LETTER_ONLY_QUEUES):
            dlq = await channel.declare_queue(
                spec.dead_letter_queue,
                durable=True,
                arguments={"x-queue-type": self._queue_type.value},
            )
            await dlq.bind(dead_letter, spec.name)

    async def declare_work_queue(self, channel: AbstractChannel, spec: QueueSpec) -> AbstractQueue:
        return await channel.declare_queue(
            spec.name,
            durable=True,
            arguments=queue_arguments(spec, self._queue_type, self._delivery_limit),
        )

    async def ping(self) -> None:
        if not self._connected.is_set() or self._publish_channel is None:
            raise BrokerUnavailableError(self._last_error)
        try:
            # Through the raw channel: aio-pika answers a passive declare from its cache.
            channel = await self._publish_channel.get_underlay_channel()
            await asyncio.wait_for(channel.exchange_declare(exchange=DEAD_LETTER_EXCHANGE, passive=True), 2)
        except _BROKER_ERRORS as exc:
            raise BrokerUnavailableError(f"{type(exc).__name__}: {exc}") from exc

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
        target = self._exchanges.get(exchange)
        if not self._connected.is_set() or target is None:
            raise BrokerUnavailableError(self._last_error)
        message = aio_pika.Message(
            body,
            delivery_mode=DeliveryMode.PERSISTENT,
            message_id=message_id,
            content_type=content_type,
            timestamp=time.time(),
            headers=headers,
        )
        try:
            await target.publish(message, routing_key, mandatory=True, timeout=self._publish_timeout_s)
        except aiormq.exceptions.PublishError as exc:
            raise BrokerUnavailableError(f"no queue is bound for {routing_key!r}") from exc
        except aiormq.exceptions.DeliveryError as exc:
            raise BrokerUnavailableError(f"broker refused the message: {exc}") from exc
        except _BROKER_ERRORS as exc:
            raise BrokerUnavailableError(f"{type(exc).__name__}: {exc}") from exc

    async def consume(self, queue: QueueSpec, handler: Handler, *, prefetch: int) -> RabbitSubscription:
        subscription = RabbitSubscription(self, queue, handler, prefetch)
        if self._connection is not None:
            await subscription.begin(self._connection)
        else:
            self._pending.append(subscription)
        return subscription

    async def queue_depth(self, queue_name: str) -> int:
        if self._publish_channel is None:
            raise BrokerUnavailableError(self._last_error)
        try:
            channel = await self._publish_channel.get_underlay_channel()
            result = await asyncio.wait_for(channel.queue_declare(queue_name, passive=True), 2)
        except _BROKER_ERRORS as exc:
            raise BrokerUnavailableError(f"{type(exc).__name__}: {exc}") from exc
        return int(result.message_count or 0)

    async def dead_letter(self, queue: QueueSpec, message: AbstractIncomingMessage, reason: str) -> None:
        """Put a message on the queue's dead-letter queue with the reason, confirmed."""
        headers = dict(message.headers or {})
        headers[DEAD_LETTER_REASON_HEADER] = reason[:1000]
        headers[ORIGINAL_ROUTING_KEY_HEADER] = message.routing_key or ""
        await self.publish(
            DEAD_LETTER_EXCHANGE,
            queue.name,
            message.body,
            message_id=message.message_id or "",
            content_type=message.content_type or "application/octet-stream",
            headers=headers,
        )


class RabbitSubscription:
    """One consumer on its own channel; its handler runs once per message, at most
    `prefetch` at a time."""

    def __init__(self, bus: RabbitBus, queue: QueueSpec, handler: Handler, prefetch: int) -> None:
        self._bus = bus
        self._spec = queue
        self._handler = handler
        self._prefetch = prefetch
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = asyncio.Event()
        self._backoff = RetryBackoff()

    async def begin(self, connection: AbstractRobustConnection) -> None:
        self._channel = await connection.channel()
        await self._channel.set_qos(prefetch_count=self._prefetch)
        # Declared (not just looked up) so that the robust channel restores the consumer
        # after a reconnect.
        self._queue = await self._bus.declare_work_queue(self._channel, self._spec)
        self._consumer_tag = await self._queue.consume(self._on_message)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        if self._stopping.is_set():
            # Arrived between cancel and its acknowledgement: give it back untouched.
            await message.nack(requeue=True)
            return
        self._in_flight += 1
        self._idle.clear()
        try:
            await self._process(message)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _process(self, message: AbstractIncomingMessage) -> None:
        incoming = IncomingMessage(
            body=message.body,
            routing_key=message.routing_key or "",
            message_id=message.message_id,
            content_type=message.content_type,
            headers=dict(message.headers or {}),
            redelivered=bool(message.redelivered),
        )
        outcome, reason = await run_handler(self._handler, incoming)
        if outcome is Outcome.ACK:
            self._backoff.reset()
            await message.ack()
        elif outcome is Outcome.DEAD_LETTER:
            try:
                await self._bus.dead_letter(self._spec, message, reason or "unknown")
            except BrokerUnavailableError:
                # Not kept anywhere yet: hand it back rather than lose it.
                await message.nack(requeue=True)
                return
            await message.ack()
        else:
            # The backoff, cut short by a stop: the message goes back now rather than holding
            # the shutdown for up to its whole delay.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._backoff.next_delay())
            await message.nack(requeue=True)

    async def stop(self, timeout_s: float = 30.0) -> None:
        self._stopping.set()
        if self._queue is not None and self._consumer_tag is not None:
            with contextlib.suppress(*_BROKER_ERRORS):
                await self._queue.cancel(self._consumer_tag, timeout=5)
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            log.warning("messages still in flight at shutdown; the broker will redeliver them")
        if self._channel is not None:
            with contextlib.suppress(*_BROKER_ERRORS):
                await asyncio.wait_for(self._channel.close(), CLOSE_TIMEOUT_S)
