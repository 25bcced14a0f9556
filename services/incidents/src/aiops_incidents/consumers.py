"""The anomaly consumer: each event on `incidents.anomalies` goes into the incident domain.

The message is acknowledged after the transaction that recorded it committed; an event that does
not parse is dead-lettered with the reason; anything else (the store unreachable, a `cleared`
that overtook its `detected`) is retried after a backoff.
"""

from __future__ import annotations

from pydantic import ValidationError

from aiops_core.bus import Bus, IncomingMessage, PoisonMessageError, Subscription
from aiops_core.bus.topology import ANOMALY_QUEUE
from aiops_core.models import AnomalyEvent
from aiops_incidents.service import IncidentService


class AnomalyConsumer:
    def __init__(self, bus: Bus, service: IncidentService, *, prefetch: int) -> None:
        self._bus = bus
        self._service = service
        self._prefetch = prefetch
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = await self._bus.consume(ANOMALY_QUEUE, self.handle, prefetch=self._prefetch)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.stop()

    async def handle(self, message: IncomingMessage) -> None:
        try:
            event = AnomalyEvent.model_validate_json(message.body)
        except ValidationError as exc:
            raise PoisonMessageError(f"not an anomaly event: {exc.errors()[:3]}") from exc
        if event.event == "detected":
            await self._service.on_detected(event.anomaly)
        else:
            await self._service.on_cleared(event.anomaly)
