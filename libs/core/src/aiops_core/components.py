"""Background components of a service (consumers, periodic jobs, monitors, notifiers), declared
as a list and run for the life of the service: started in order, stopped in reverse.

A service's lifespan builds its clients, lists its components and enters `running(components)`;
nothing else starts or stops background work, so the order of shutdown is the reverse of the
list by construction rather than by a hand-kept `try/finally`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Protocol


class Component(Protocol):
    """Work that runs beside a service's requests until it is stopped."""

    async def start(self) -> None:
        """Begin the work; return once it is running."""

    async def stop(self) -> None:
        """End the work, finishing what is in flight."""


@asynccontextmanager
async def running(components: Iterable[Component]) -> AsyncIterator[None]:
    """Start each component in order; on the way out stop those that started, in reverse, also
    when a later one failed to start."""
    async with AsyncExitStack() as stack:
        for component in components:
            await component.start()
            stack.push_async_callback(component.stop)
        yield
