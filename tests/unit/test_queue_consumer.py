"""A queue consumer decodes each message into its model, processes it, and leaves the message to
the bus's policy: acknowledged when processing returns, dead-lettered on poison, retried otherwise."""

import asyncio
from collections.abc import Callable

import pytest
from pydantic import BaseModel

from aiops_core.bus import Bus, IncomingMessage, InMemoryBus, PoisonMessageError, QueueConsumer
from aiops_core.bus.topology import DEAD_LETTER_REASON_HEADER, TELEMETRY_EXCHANGE, QueueSpec

GREETINGS = QueueSpec("test.greetings", TELEMETRY_EXCHANGE, ("greeting.#",))


class Greeting(BaseModel):
    name: str
    times: int = 1


class GreetingConsumer(QueueConsumer[Greeting]):
    queue = GREETINGS
    model = Greeting
    what = "greeting"

    def __init__(self, bus: Bus, *, prefetch: int = 1) -> None:
        super().__init__(bus, prefetch=prefetch)
        self.greeted: list[str] = []
        self.failures: list[Exception] = []
        self.dead_letters: list[str] = []
        self.fail_first: Exception | None = None
        self.delay_s = 0.0

    async def process(self, item: Greeting, message: IncomingMessage) -> None:
        await asyncio.sleep(self.delay_s)
        if self.fail_first is not None:
            failure, self.fail_first = self.fail_first, None
            raise failure
        if item.name == "nobody":
            raise PoisonMessageError("nobody cannot be greeted")
        self.greeted.append(item.name)

    def on_dead_letter(self, reason: str) -> None:
        self.dead_letters.append(reason)

    def on_retry(self, error: Exception) -> None:
        self.failures.append(error)


async def _wait_for(condition: Callable[[], object], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


@pytest.fixture
async def bus() -> InMemoryBus:
    bus = InMemoryBus(queues=(GREETINGS,))
    await bus.start()
    return bus


async def publish(bus: InMemoryBus, body: bytes, message_id: str = "m") -> None:
    await bus.publish(TELEMETRY_EXCHANGE, "greeting.new", body, message_id=message_id)


async def test_each_message_is_decoded_and_processed(bus: InMemoryBus) -> None:
    consumer = GreetingConsumer(bus)
    await consumer.start()
    await publish(bus, b'{"name": "ada"}')
    await _wait_for(lambda: consumer.greeted)
    await consumer.stop()
    assert consumer.greeted == ["ada"]
    assert bus.dead_letters(GREETINGS.name) == []
    assert consumer.dead_letters == consumer.failures == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not a greeting: body: Invalid JSON"),
        (b'{"times": 2}', "not a greeting: name: Field required"),
        (b'{"name": "ada", "times": "x"}', "not a greeting: times: Input should be a valid integer"),
    ],
)
async def test_a_body_that_is_not_the_model_is_dead_lettered_with_one_report_format(
    bus: InMemoryBus, body: bytes, reason: str
) -> None:
    consumer = GreetingConsumer(bus)
    await consumer.start()
    await publish(bus, body)
    await _wait_for(lambda: bus.dead_letters(GREETINGS.name))
    await consumer.stop()
    [dead] = bus.dead_letters(GREETINGS.name)
    assert dead.body == body
    assert str(dead.headers[DEAD_LETTER_REASON_HEADER]).startswith(reason)
    assert consumer.dead_letters == [dead.headers[DEAD_LETTER_REASON_HEADER]]
    assert consumer.greeted == []


async def test_poison_found_while_processing_is_dead_lettered_and_reported_to_the_hook(
    bus: InMemoryBus,
) -> None:
    consumer = GreetingConsumer(bus)
    await consumer.start()
    await publish(bus, b'{"name": "nobody"}')
    await _wait_for(lambda: bus.dead_letters(GREETINGS.name))
    await consumer.stop()
    [dead] = bus.dead_letters(GREETINGS.name)
    assert dead.headers[DEAD_LETTER_REASON_HEADER] == "nobody cannot be greeted"
    assert consumer.dead_letters == ["nobody cannot be greeted"]
    assert consumer.failures == []


async def test_any_other_failure_is_retried_and_reported_to_the_hook(bus: InMemoryBus) -> None:
    consumer = GreetingConsumer(bus)
    consumer.fail_first = ConnectionError("database restarting")
    await consumer.start()
    await publish(bus, b'{"name": "ada"}')
    await _wait_for(lambda: consumer.greeted)
    await consumer.stop()
    assert consumer.greeted == ["ada"]
    assert [str(e) for e in consumer.failures] == ["database restarting"]
    assert consumer.dead_letters == []
    assert bus.dead_letters(GREETINGS.name) == []


async def test_stop_finishes_the_messages_in_flight_and_takes_no_more(bus: InMemoryBus) -> None:
    consumer = GreetingConsumer(bus, prefetch=2)
    consumer.delay_s = 0.05
    await consumer.start()
    for i in range(5):
        await publish(bus, f'{{"name": "n{i}"}}'.encode(), message_id=str(i))
    await asyncio.sleep(0.01)
    await consumer.stop()
    assert len(consumer.greeted) == 2
    assert await bus.queue_depth(GREETINGS.name) == 3
    await consumer.stop()  # a second stop is harmless
