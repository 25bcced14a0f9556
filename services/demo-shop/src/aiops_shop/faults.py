"""Faults a shop service can be told to inject, on top of its natural behaviour."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from aiops_core.errors import AiopsError
from aiops_shop.telemetry import record_failure

# Where a behaviour outside any app logs its failed requests.
_log = logging.getLogger(__name__)


class InjectedFailureError(AiopsError):
    status_code = 500
    code = "internal_error"


class FaultState(BaseModel):
    error_rate: float = Field(ge=0, le=1, description="Share of requests failed on purpose.")
    latency_ms: float = Field(ge=0, description="Delay added to every request, in milliseconds.")
    model_config = {"json_schema_extra": {"examples": [{"error_rate": 0.3, "latency_ms": 0}]}}


class DeployState(FaultState):
    version: str = Field(description="The version the app now runs as (until a reset rolls it back).")


@dataclass
class Behaviour:
    """How long a service takes and how often it fails: naturally, and as injected."""

    median_latency_ms: float
    failure_message: str
    natural_error_rate: float = 0.005
    jitter: float = 0.35  # sigma of a log-normal: most requests near the median, a long tail
    error_rate: float = 0.0
    added_latency_ms: float = 0.0
    # The version a (bad) deploy put in place of the app's own; its spans carry it.
    deployed_version: str | None = None
    rng: random.Random = field(default_factory=random.Random)
    # What the service keeps behind it and fakes too (inventory's database): reset along with it.
    owned: tuple[Behaviour, ...] = ()
    # Other faults of the service's own (inventory's leaking pool), ended by a reset too.
    also_reset: list[Callable[[], object]] = field(default_factory=list)

    def state(self) -> FaultState:
        return FaultState(error_rate=self.error_rate, latency_ms=self.added_latency_ms)

    def reset(self) -> None:
        """Stop injecting faults, here and in what the service owns."""
        self.error_rate = 0.0
        self.added_latency_ms = 0.0
        self.deployed_version = None
        for part in self.owned:
            part.reset()
        for end in self.also_reset:
            end()

    def latency_s(self) -> float:
        natural = self.median_latency_ms * self.rng.lognormvariate(0, self.jitter)
        return (natural + self.added_latency_ms) / 1000

    def fails(self) -> bool:
        chance = 1 - (1 - self.natural_error_rate) * (1 - self.error_rate)
        return self.rng.random() < chance

    async def perform(self, log: logging.Logger = _log) -> None:
        """Take this request's time, then fail it if its luck (or an injected fault) says so,
        logging the failure on `log` (the app's)."""
        await asyncio.sleep(self.latency_s())
        if self.fails():
            raise record_failure(InjectedFailureError(self.failure_message), log)
