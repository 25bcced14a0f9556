"""Detection end to end, as separate processes on the real RabbitMQ, PostgreSQL and Redis: the
demo shop under load, a fault injected into payment, and the anomaly events that follow on the
`anomalies` exchange — exactly one `anomaly.detected` on the faulted series, then an
`anomaly.cleared` once the fault is reset."""

from __future__ import annotations

import json

import httpx

from aiops_core.bus.topology import ANOMALY_QUEUE
from aiops_core.models import AnomalyEvent, AnomalyKind
from tests.e2e.conftest import (
    FAST_DETECTION,
    MIN_HISTORY_S,
    learned_seconds,
    start_load,
    start_platform,
    start_shop,
)
from tests.support.bus import drain
from tests.support.processes import AiopsProcess
from tests.support.waiting import eventually

PAYMENT = ("payment", "POST /payment")


async def test_a_payment_fault_opens_one_anomaly_on_payment_and_clears_after_reset(
    processes: list[AiopsProcess], platform_env: dict[str, str], database_url: str, broker_url: str
) -> None:
    env = platform_env | FAST_DETECTION | {}
    ingest, _ = await start_platform(processes, env)
    shop = await start_shop(processes, ingest.url)
    start_load(processes, shop.frontend, 20)
    await eventually(
        lambda: learned_seconds(database_url, *PAYMENT),
        lambda covered: covered >= MIN_HISTORY_S + 5,
        timeout_s=90,
        interval_s=1,
        what="the payment series has learned its baseline",
    )
    events: list[AnomalyEvent] = []

    async def collect() -> list[AnomalyEvent]:
        events.extend(
            AnomalyEvent.model_validate(json.loads(m.body))
            for m in await drain(broker_url, ANOMALY_QUEUE.name)
        )
        return events

    assert await collect() == [], "normal load raised anomalies before any fault"
    async with httpx.AsyncClient() as client:
        (await client.post(f"{shop.payment}/simulate/error", params={"rate": 1.0})).raise_for_status()

        def on_payment(event: AnomalyEvent, name: str) -> bool:
            anomaly = event.anomaly
            return (
                event.event == name
                and (anomaly.service, anomaly.operation) == PAYMENT
                and anomaly.kind is AnomalyKind.ERROR_RATIO
            )

        found = await eventually(
            collect,
            lambda seen: any(on_payment(e, "detected") for e in seen),
            timeout_s=30,
            interval_s=0.5,
            what="anomaly.detected on payment",
        )
        detected = next(e.anomaly for e in found if on_payment(e, "detected"))
        assert detected.score >= 0.7
        assert detected.observed["error_ratio"] is not None
        assert detected.observed["error_ratio"] > 0.05
        assert detected.evidence.trace_ids, "an anomaly carries exemplar traces"
        messages = [m.message for m in detected.evidence.error_messages]
        assert any("card processor timed out" in m for m in messages), messages
        (await client.post(f"{shop.payment}/simulate/reset")).raise_for_status()

    await eventually(
        collect,
        lambda seen: any(on_payment(e, "cleared") and e.anomaly.id == detected.id for e in seen),
        timeout_s=60,
        interval_s=0.5,
        what="anomaly.cleared on payment",
    )
    assert sum(on_payment(e, "detected") for e in events) == 1, [e.anomaly for e in events]
