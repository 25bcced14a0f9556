"""The in-process bus keeps the same delivery rules as the RabbitMQ one."""

import asyncio

import pytest

from aiops_core.bus import BrokerUnavailableError, IncomingMessage, InMemoryBus, PoisonMessageError
from aiops_core.bus.topology import (
    DEAD_LETTER_REASON_HEADER,
    SPAN_BATCH_ROUTING_KEY,
    SPAN_STORE_QUEUE,
    TELEMETRY_EXCHANGE,
)


async def _wait_for(condition: object, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


@pytest.fixture
async def bus() -> InMemoryBus:
    bus = InMemoryBus()
    await bus.start()
    return bus


async def test_published_messages_reach_the_bound_queue(bus: InMemoryBus) -> None:
    received: list[IncomingMessage] = []

    async def handle(message: IncomingMessage) -> None:
        received.append(message)

    subscription = await bus.consume(SPAN_STORE_QUEUE, handle, prefetch=4)
    await bus.publish(TELEMETRY_EXCHANGE, SPAN_BATCH_ROUTING_KEY, b"one", message_id="m1")
    await _wait_for(lambda: len(received) == 1)
    assert received[0].body == b"one"
    assert received[0].message_id == "m1"
    await subscription.stop()


async def test_unroutable_messages_are_an_error(bus: InMemoryBus) -> None:
    with pytest.raises(BrokerUnavailableError, match="no queue is bound"):
        await bus.publish(TELEMETRY_EXCHANGE, "nobody.listens", b"x", message_id="m")


async def test_a_closed_bus_refuses_to_publish(bus: InMemoryBus) -> None:
    await bus.close()
    with pytest.raises(BrokerUnavailableError):
        await bus.publish(TELEMETRY_EXCHANGE, SPAN_BATCH_ROUTING_KEY, b"x", message_id="m")


async def test_poison_goes_to_the_dead_letter_queue_with_its_reason(bus: InMemoryBus) -> None:
    async def handle(message: IncomingMessage) -> None:
        raise PoisonMessageError("not a span batch")

    subscription = await bus.consume(SPAN_STORE_QUEUE, handle, prefetch=1)
    await bus.publish(TELEMETRY_EXCHANGE, SPAN_BATCH_ROUTING_KEY, b"garbage", message_id="m")
    await _wait_for(lambda: bus.dead_letters(SPAN_STORE_QUEUE.name))
    dead = bus.dead_letters(SPAN_STORE_QUEUE.name)[0]
    assert dead.body == b"garbage"
    assert dead.headers[DEAD_LETTER_REASON_HEADER] == "not a span batch"
    assert await bus.queue_depth(SPAN_STORE_QUEUE.dead_letter_queue) == 1
    await subscription.stop()


async def test_a_failing_handler_gets_the_message_again(bus: InMemoryBus) -> None:
    attempts: list[bool] = []

    async def handle(message: IncomingMessage) -> None:
        attempts.append(message.redelivered)
        if len(attempts) < 2:
            raise ConnectionError("database restarting")

    subscription = await bus.consume(SPAN_STORE_QUEUE, handle, prefetch=1)
    await bus.publish(TELEMETRY_EXCHANGE, SPAN_BATCH_ROUTING_KEY, b"x", message_id="m")
    await _wait_for(lambda: len(attempts) == 2)
    assert attempts == [False, True]
    assert bus.dead_letters(SPAN_STORE_QUEUE.name) == []
    await subscription.stop()


async def test_prefetch_bounds_concurrency_and_stop_waits_for_work_in_flight(bus: InMemoryBus) -> None:
    running = 0
    peak = 0
    finished = 0

    async def handle(message: IncomingMessage) -> None:
        nonlocal running, peak, finished
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        finished += 1

    subscription = await bus.consume(SPAN_STORE_QUEUE, handle, prefetch=3)
    for i in range(10):
        await bus.publish(TELEMETRY_EXCHANGE, SPAN_BATCH_ROUTING_KEY, b"x", message_id=str(i))
    await _wait_for(lambda: finished >= 1)
    await subscription.stop()
    assert running == 0
    assert peak == 3
    assert finished + await bus.queue_depth(SPAN_STORE_QUEUE.name) == 10
