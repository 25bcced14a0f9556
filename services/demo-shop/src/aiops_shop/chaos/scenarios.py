"""The faults `aiops chaos` can inject into the demo shop, each with its ground truth: the service
where the trouble starts and the anomaly kinds that describe it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# The shop's services, by the `service.name` their spans carry (also the names of their URLs).
FRONTEND, PAYMENT, INVENTORY = "frontend", "payment", "inventory"
SHOP_SERVICES = (FRONTEND, PAYMENT, INVENTORY)

# Anomaly kinds as the incidents API spells them (aiops_core.models.AnomalyKind).
ERROR_RATIO, LATENCY = "error_ratio", "latency"


class FaultKind(StrEnum):
    """The shop's fault controls: `POST /simulate/error?rate=R`, `POST /simulate/latency?ms=M`."""

    ERROR = "error"
    LATENCY = "latency"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    target: str  # the shop service the fault is injected into
    fault: FaultKind
    amount: float  # error rate (0..1) or added milliseconds
    cause_service: str
    cause_kinds: frozenset[str]

    @property
    def query(self) -> dict[str, float]:
        return {"rate": self.amount} if self.fault is FaultKind.ERROR else {"ms": self.amount}

    @property
    def truth(self) -> str:
        return f"{self.cause_service} {'/'.join(sorted(self.cause_kinds))}"


def _errors(target: str, rate: float) -> Scenario:
    return Scenario(
        name=f"{target}-errors-{round(rate * 100)}",
        description=f"{target} fails {rate:.0%} of requests",
        target=target,
        fault=FaultKind.ERROR,
        amount=rate,
        cause_service=target,
        cause_kinds=frozenset({ERROR_RATIO}),
    )


def _latency(target: str, ms: float) -> Scenario:
    return Scenario(
        name=f"{target}-latency-{ms:g}",
        description=f"{target} takes {ms:g} ms longer",
        target=target,
        fault=FaultKind.LATENCY,
        amount=ms,
        cause_service=target,
        cause_kinds=frozenset({LATENCY}),
    )


def catalogue(cascade_ms: float = 6000) -> tuple[Scenario, ...]:
    """Every scenario, in a fixed order (the schedule's shuffle starts from it, so the order is part
    of what a seed reproduces)."""
    cascade = Scenario(
        name="inventory-cascade",
        # Slower than the frontend's downstream timeout: inventory answers, late and without an
        # error, while the frontend fails with timeouts. The frontend suffers; inventory is to blame.
        description=f"inventory takes {cascade_ms:g} ms longer, past the frontend's timeout",
        target=INVENTORY,
        fault=FaultKind.LATENCY,
        amount=cascade_ms,
        cause_service=INVENTORY,
        cause_kinds=frozenset({LATENCY}),
    )
    return (
        _errors(PAYMENT, 1.0),
        _errors(PAYMENT, 0.2),
        _latency(PAYMENT, 300),
        _errors(INVENTORY, 0.5),
        _latency(INVENTORY, 200),
        _errors(FRONTEND, 0.5),
        cascade,
    )


def select(scenarios: tuple[Scenario, ...], names: list[str] | None) -> tuple[Scenario, ...]:
    """The scenarios named (in catalogue order), all when `names` is empty; an unknown name is a
    ValueError listing the known ones."""
    if not names:
        return scenarios
    known = {scenario.name for scenario in scenarios}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown scenario {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return tuple(scenario for scenario in scenarios if scenario.name in names)
