"""When each fault runs: a seeded, reproducible plan with a quiet start and a gap after each fault."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from aiops_shop.chaos.scenarios import Scenario


@dataclass(frozen=True)
class PlannedFault:
    scenario: Scenario
    start_s: float  # seconds after the run starts
    duration_s: float

    @property
    def end_s(self) -> float:
        return round(self.start_s + self.duration_s, 3)


def plan(
    scenarios: Sequence[Scenario],
    *,
    seed: int,
    total_s: float,
    quiet_s: float = 0.0,
    fault_s: tuple[float, float] = (45.0, 75.0),
    gap_s: float = 100.0,
) -> list[PlannedFault]:
    """The faults that fit in `total_s`: after `quiet_s` of normal load, the scenarios in an order
    shuffled by `seed` (repeated while time allows), each lasting a seeded time within `fault_s`
    and followed by `gap_s` of normal load. A fault is planned only if it and its gap end within
    `total_s`; the first that does not ends the plan.

    Random draws never depend on `total_s`, so a longer run's plan starts with a shorter one's."""
    shortest, longest = fault_s
    if not scenarios or shortest <= 0 or longest < shortest or gap_s < 0 or quiet_s < 0:
        raise ValueError("plan needs scenarios, 0 < shortest <= longest fault, and gap and quiet >= 0")
    rng = random.Random(seed)
    order = rng.sample(list(scenarios), len(scenarios))
    planned: list[PlannedFault] = []
    start = quiet_s
    while True:
        duration = round(rng.uniform(shortest, longest), 1)
        if start + duration + gap_s > total_s:
            return planned
        planned.append(PlannedFault(order[len(planned) % len(order)], start, duration))
        start = round(start + duration + gap_s, 3)  # no float drift in the offsets shown


def time_for_all(count: int, *, quiet_s: float, fault_s: tuple[float, float], gap_s: float) -> float:
    """A run long enough for `count` faults whatever durations the seed draws."""
    return quiet_s + count * (fault_s[1] + gap_s)
