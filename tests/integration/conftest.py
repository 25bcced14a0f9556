from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aiops_core.bus import RabbitBus


@pytest.fixture
async def bus(broker_url: str) -> AsyncIterator[RabbitBus]:
    """A connected RabbitBus on the run's vhost."""
    bus = RabbitBus(broker_url, publish_timeout_s=5)
    await bus.start()
    await bus.wait_connected(10)
    yield bus
    await bus.close()
