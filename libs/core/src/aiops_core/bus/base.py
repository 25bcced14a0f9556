"""The bus interface shared by the RabbitMQ bus and the in-process bus.

Delivery is at-least-once. A handler that returns has its message acknowledged; one that raises
`PoisonMessageError` has it dead-lettered with the reason; any other exception means "try again
later": the message goes back to the queue after a backoff, so a database outage delays work
instead of losing it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from aiops_core.bus.topology import QueueSpec

log = logging.getLogger(__name__)


class PoisonMessageError(Exception):
    """The message can never be processed; keep it on the dead-letter queue with this reason."""


class BrokerUnavailableError(Exception):
    """The bus cannot accept or confirm a publish right now."""


@dataclass(frozen=True)
class IncomingMessage:
    body: bytes
    routing_key: str
    message_id: str | None = None
    content_type: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)
    redelivered: bool = False


Handler = Callable[[IncomingMessage], Awaitable[None]]


class Outcome(Enum):
    ACK = "ack"
    DEAD_LETTER = "dead_letter"
    RETRY = "retry"


class Subscription(Protocol):
    async def stop(self, timeout_s: float = 30.0) -> None:
        """Stop receiving, let the messages in flight finish (and be acknowledged), then return."""


class Bus(Protocol):
    async def start(self) -> None:
        """Begin connecting; returns at once. Publishing before the bus is up raises."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise if the broker cannot be reached now."""

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
        """Return once the broker has the message durably (publisher confirm); else raise
        `BrokerUnavailableError`. A message no queue would receive is an error, not a drop."""

    async def consume(self, queue: QueueSpec, handler: Handler, *, prefetch: int) -> Subscription: ...

    async def queue_depth(self, queue_name: str) -> int:
        """Messages ready in the queue (the consumer lag, in messages)."""


@dataclass
class RetryBackoff:
    """Exponential delay before a failed message goes back, reset by the first success."""

    initial_s: float = 0.5
    max_s: float = 30.0
    failures: int = 0

    def next_delay(self) -> float:
        self.failures += 1
        return min(self.max_s, self.initial_s * 2.0 ** (self.failures - 1))

    def reset(self) -> None:
        self.failures = 0


async def run_handler(handler: Handler, message: IncomingMessage) -> tuple[Outcome, str | None]:
    """Run a handler and say what to do with its message; the policy both buses share."""
    try:
        await handler(message)
    except PoisonMessageError as exc:
        log.error(
            "dead-lettering message",
            extra={"message_id": message.message_id, "reason": str(exc)},
        )
        return Outcome.DEAD_LETTER, str(exc)
    except Exception as exc:
        log.warning(
            "message processing failed, will retry",
            extra={"message_id": message.message_id, "error": f"{type(exc).__name__}: {exc}"},
        )
        return Outcome.RETRY, f"{type(exc).__name__}: {exc}"
    return Outcome.ACK, None
