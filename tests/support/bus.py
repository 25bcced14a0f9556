"""Reading the real broker's queues directly, the way an operator would."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractIncomingMessage


async def drain(broker_url: str, queue_name: str) -> list[AbstractIncomingMessage]:
    """Every message now in the queue, taken off it."""
    connection = await aio_pika.connect(broker_url, timeout=5)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name, ensure=False)
        messages = []
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            messages.append(message)
        return messages


async def depth(broker_url: str, queue_name: str) -> int:
    connection = await aio_pika.connect(broker_url, timeout=5)
    async with connection:
        channel = await connection.channel()
        underlay = await channel.get_underlay_channel()
        result = await underlay.queue_declare(queue_name, passive=True)
        return int(result.message_count or 0)
