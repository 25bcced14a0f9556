"""The message bus: RabbitMQ in production, an in-process twin for the all-in-one mode."""

from aiops_core.bus.base import (
    BrokerUnavailableError,
    Bus,
    Handler,
    IncomingMessage,
    PoisonMessageError,
    Subscription,
)
from aiops_core.bus.consumer import QueueConsumer
from aiops_core.bus.memory import InMemoryBus
from aiops_core.bus.rabbitmq import RabbitBus

__all__ = [
    "BrokerUnavailableError",
    "Bus",
    "Handler",
    "InMemoryBus",
    "IncomingMessage",
    "PoisonMessageError",
    "QueueConsumer",
    "RabbitBus",
    "Subscription",
]
