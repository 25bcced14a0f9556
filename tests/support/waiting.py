"""Wait on a condition with a deadline, never a bare sleep."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], T | Awaitable[T]],
    accept: Callable[[T], bool] = bool,
    *,
    timeout_s: float = 30.0,
    interval_s: float = 0.05,
    what: str = "condition",
) -> T:
    """Call `probe` (plain or async) until `accept(result)` holds; return that result, or fail
    at the deadline with the last value seen."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while True:
        result = probe()
        last = await result if inspect.isawaitable(result) else result
        if accept(last):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s}s; last value: {last!r}")
        await asyncio.sleep(interval_s)
