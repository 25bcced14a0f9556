"""The anomaly consumer: each event on `incidents.anomalies` goes into the incident domain.

The message is acknowledged after the transaction that recorded it committed; an event that does
not parse is dead-lettered with the reason; anything else (the store unreachable, a `cleared`
that overtook its `detected`) is retried after a backoff.
"""

from __future__ import annotations

from aiops_core.bus import Bus, IncomingMessage, QueueConsumer
from aiops_core.bus.topology import ANOMALY_QUEUE
from aiops_core.models import AnomalyEvent
from aiops_incidents.service import IncidentService


class AnomalyConsumer(QueueConsumer[AnomalyEvent]):
    queue = ANOMALY_QUEUE
    model = AnomalyEvent
    what = "anomaly event"

    def __init__(self, bus: Bus, service: IncidentService, *, prefetch: int) -> None:
        super().__init__(bus, prefetch=prefetch)
        self._service = service

    async def process(self, event: AnomalyEvent, message: IncomingMessage) -> None:
        if event.event == "detected":
            await self._service.on_detected(event.anomaly)
        else:
            await self._service.on_cleared(event.anomaly)
