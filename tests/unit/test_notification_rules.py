"""Pure rules of the notifications: the webhook retry schedule, and the in-process bus keeping a
dead-lettered webhook the way RabbitMQ's dead-letter exchange does."""

from __future__ import annotations

import pytest

from aiops_core.bus import BrokerUnavailableError, InMemoryBus
from aiops_core.bus.topology import (
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_REASON_HEADER,
    SPAN_STORE_QUEUE,
    WEBHOOK_DEAD_LETTERS,
)
from aiops_incidents.notifications.webhooks import MAX_RETRY_DELAY_S, retry_delay_s


def test_retries_wait_the_backoff_then_double_up_to_a_cap() -> None:
    assert [retry_delay_s(n, 1.5) for n in range(1, 6)] == [1.5, 3.0, 6.0, 12.0, 24.0]
    assert retry_delay_s(50, 600) == MAX_RETRY_DELAY_S


async def test_the_in_process_bus_keeps_what_is_published_on_the_dead_letter_exchange() -> None:
    bus = InMemoryBus()
    await bus.start()
    await bus.publish(
        DEAD_LETTER_EXCHANGE,
        WEBHOOK_DEAD_LETTERS.name,
        b"{}",
        message_id="d1",
        headers={DEAD_LETTER_REASON_HEADER: "HTTP 500"},
    )
    await bus.publish(DEAD_LETTER_EXCHANGE, SPAN_STORE_QUEUE.name, b"x", message_id="s1")

    [webhook] = bus.dead_letters(WEBHOOK_DEAD_LETTERS.name)
    assert (webhook.body, webhook.message_id, webhook.headers[DEAD_LETTER_REASON_HEADER]) == (
        b"{}",
        "d1",
        "HTTP 500",
    )
    assert await bus.queue_depth(WEBHOOK_DEAD_LETTERS.dead_letter_queue) == 1
    assert [m.message_id for m in bus.dead_letters(SPAN_STORE_QUEUE.name)] == ["s1"]
    with pytest.raises(BrokerUnavailableError, match="no dead-letter queue"):
        await bus.publish(DEAD_LETTER_EXCHANGE, "nobody", b"x", message_id="n")
