"""Runs a plan against the shop: each fault injected and reset on time, the shop left clean."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from aiops_shop.chaos.matching import FaultRun
from aiops_shop.chaos.schedule import PlannedFault
from aiops_shop.chaos.shop import ShopControl


async def _sleep_until(deadline: float) -> None:
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))


async def run_plan(
    plan: Sequence[PlannedFault], shop: ShopControl, *, total_s: float, say: Callable[[str], None]
) -> list[FaultRun]:
    """Follow `plan` from now (its times are offsets from the start) and return the faults as they
    happened; returns once `total_s` has passed, so normal load after the last fault is watched
    too. The caller resets the shop if this is cancelled."""
    started = time.monotonic()
    runs = []
    for planned in plan:
        scenario = planned.scenario
        await _sleep_until(started + planned.start_s)
        injected = await shop.inject(scenario)
        say(f"{injected:%H:%M:%S} inject {scenario.name}: {scenario.description}, {planned.duration_s:g} s")
        await _sleep_until(started + planned.end_s)
        first_failure = await shop.first_failure(scenario)
        ended = await shop.reset(scenario)
        runs.append(FaultRun(scenario, injected, ended, first_failure))
        say(f"{ended:%H:%M:%S} reset {scenario.where}; normal load")
    await _sleep_until(started + total_s)
    return runs
