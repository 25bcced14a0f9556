"""The base of every queue consumer: subscribe to one queue, decode each message into one model,
hand it to `process`. The model is a pydantic model, or a msgspec Struct where decoding is the
cost that matters (the span batches, hundreds of spans a message).

The acknowledgement policy is the bus's (`run_handler`): when `process` returns the message is
acknowledged, so a subclass returns only once its work is committed (in the database, in Redis);
`PoisonMessageError` dead-letters the message with its reason; any other exception sends it back to
the queue after a backoff. A body that does not decode into the model is poison, reported the same
way by every consumer: "not a <what>: <location>: <error>".
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

import msgspec
from pydantic import BaseModel, ValidationError

from aiops_core.bus.base import Bus, IncomingMessage, PoisonMessageError, Subscription
from aiops_core.bus.topology import QueueSpec

M = TypeVar("M", bound=BaseModel | msgspec.Struct)


class QueueConsumer(ABC, Generic[M]):
    """Consumes `queue`, each message a `model`; a component with `start()` and `stop()`."""

    queue: ClassVar[QueueSpec]
    model: type[M]
    # What a message should be, for the poison report: "span batch" gives "not a span batch: ...".
    what: ClassVar[str]

    def __init__(self, bus: Bus, *, prefetch: int) -> None:
        self._bus = bus
        self._prefetch = prefetch
        self._subscription: Subscription | None = None
        self._decode: Callable[[bytes], Any] = (
            msgspec.json.Decoder(self.model).decode
            if issubclass(self.model, msgspec.Struct)
            else self.model.model_validate_json
        )

    async def start(self) -> None:
        self._subscription = await self._bus.consume(self.queue, self.handle, prefetch=self._prefetch)

    async def stop(self) -> None:
        """Stop taking messages, finish (and acknowledge) those in flight."""
        if self._subscription is not None:
            await self._subscription.stop()
            self._subscription = None

    async def handle(self, message: IncomingMessage) -> None:
        """The bus handler: decode, process, and tell the hooks what becomes of the message."""
        try:
            await self.process(self.decode(message), message)
        except PoisonMessageError as exc:
            self.on_dead_letter(str(exc))
            raise
        except Exception as exc:
            self.on_retry(exc)
            raise

    def decode(self, message: IncomingMessage) -> M:
        """The message's body as the model; `PoisonMessageError` when it is not one."""
        try:
            decoded: M = self._decode(message.body)
        except ValidationError as exc:
            # The first error is enough to find the fault; the whole body is on the dead-letter queue.
            error = exc.errors()[0]
            location = ".".join(str(part) for part in error["loc"]) or "body"
            raise PoisonMessageError(f"not a {self.what}: {location}: {error['msg']}") from exc
        except msgspec.DecodeError as exc:
            reason, location = _msgspec_error(exc)
            raise PoisonMessageError(f"not a {self.what}: {location}: {reason}") from exc
        return decoded

    @abstractmethod
    async def process(self, item: M, message: IncomingMessage) -> None:
        """Do the work for one message; return only once it is committed. Raise
        `PoisonMessageError` for a message that can never be processed, anything else to retry."""

    def on_dead_letter(self, reason: str) -> None:
        """Called as a message is about to be dead-lettered (to count it, say)."""

    def on_retry(self, error: Exception) -> None:
        """Called as a message is about to go back to the queue to be tried again."""


def _msgspec_error(exc: msgspec.DecodeError) -> tuple[str, str]:
    """msgspec's "Expected `int` - at `$.spans[0].kind`" as ("Expected `int`", "spans.0.kind")."""
    error, _, path = str(exc).partition(" - at `")
    location = re.sub(r"\[(\d+)\]", r".\1", path.rstrip("`")).removeprefix("$").lstrip(".")
    return error, location or "body"
