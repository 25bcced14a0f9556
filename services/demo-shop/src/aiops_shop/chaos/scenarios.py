"""The faults `aiops chaos` can inject into the demo shop, each with its ground truth: the service
where the trouble starts (a shop service, or a dependency the platform infers from the calls to
it, such as inventory's database), the anomaly kinds that describe it, and the instance, when one
instance alone carries the trouble."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aiops_shop.common import CONTROLS
from aiops_shop.inventory import STOCK_DB_CONTROLS
from aiops_shop.payment import instance_name

# The shop's services, by the `service.name` their spans carry (also the names of their URLs).
FRONTEND, PAYMENT, INVENTORY = "frontend", "payment", "inventory"
SHOP_SERVICES = (FRONTEND, PAYMENT, INVENTORY)

# Anomaly kinds as the incidents API spells them (aiops_core.models.AnomalyKind).
ERROR_RATIO, LATENCY, SATURATION = "error_ratio", "latency", "saturation"

# stock-db as the platform names a database from its callers' spans: `db.system` `server.address`.
STOCK_DB_NODE = "postgresql stock-db"
# `aiops up` runs payment as two instances, payment-1 and payment-2 (`service.instance.id`).
PAYMENT_2 = instance_name(PAYMENT, 2)


class FaultKind(StrEnum):
    """The shop's fault controls: `POST /simulate/error?rate=R`, `POST /simulate/latency?ms=M`,
    inventory's `POST /simulate/leak?per_minute=N` (its pool of stock-db connections leaks), and
    `POST /simulate/deploy?version=V&rate=R` (a new version that fails a share of requests)."""

    ERROR = "error"
    LATENCY = "latency"
    LEAK = "leak"
    DEPLOY = "deploy"


@dataclass(frozen=True)
class Scenario:
    """A fault and its ground truth. The fault goes to `{controls}/{fault}` on the app of `target`:
    on every instance of it, or on `instance` alone (`<service>-<n>`, the n-th of the service's
    URLs)."""

    name: str
    description: str
    target: str  # the shop service whose app the fault is injected into
    fault: FaultKind
    amount: float  # error rate (0..1) or added milliseconds
    cause_service: str
    cause_kinds: frozenset[str]
    instance: str | None = None
    controls: str = CONTROLS
    cause_instance: str | None = None  # the instance the root cause must name; None: any
    version: str | None = None  # a deploy's new version, which the root cause's evidence must name

    @property
    def query(self) -> dict[str, float | str]:
        parameter = {
            FaultKind.ERROR: "rate",
            FaultKind.LATENCY: "ms",
            FaultKind.LEAK: "per_minute",
            FaultKind.DEPLOY: "rate",
        }
        query: dict[str, float | str] = {parameter[self.fault]: self.amount}
        if self.version is not None:
            query["version"] = self.version
        return query

    @property
    def truth(self) -> str:
        kinds = "/".join(sorted(self.cause_kinds))
        on = f" on {self.cause_instance}" if self.cause_instance else ""
        return f"{self.cause_service} {kinds}{on}"

    @property
    def where(self) -> str:
        """What the fault goes into, as the run's log says it: "payment", "payment-2",
        "inventory /simulate/stock-db"."""
        app = self.instance or self.target
        return app if self.controls == CONTROLS else f"{app} {self.controls}"


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
    db_slow = Scenario(
        name="db-slow",
        # Next to its 2 ms median, unmistakable; inventory is slow only because it waits.
        description="inventory's database stock-db takes 300 ms longer",
        target=INVENTORY,
        controls=STOCK_DB_CONTROLS,
        fault=FaultKind.LATENCY,
        amount=300,
        cause_service=STOCK_DB_NODE,
        cause_kinds=frozenset({LATENCY}),
    )
    one_bad_instance = Scenario(
        name="one-bad-instance",
        description=f"{PAYMENT_2}, one of payment's two instances, takes 300 ms longer",
        target=PAYMENT,
        instance=PAYMENT_2,
        fault=FaultKind.LATENCY,
        amount=300,
        cause_service=PAYMENT,
        cause_kinds=frozenset({LATENCY}),
        cause_instance=PAYMENT_2,
    )
    pool_leak = Scenario(
        name="pool-leak",
        # Dry 40 s in: the in-use gauge climbs while requests succeed, then they fail. What finds
        # it first is the saturation forecast; what fails later are inventory's requests.
        description="inventory's pool of stock-db connections leaks 15 a minute, dry in 40 s",
        target=INVENTORY,
        fault=FaultKind.LEAK,
        amount=15,
        cause_service=INVENTORY,
        cause_kinds=frozenset({SATURATION, ERROR_RATIO}),
    )
    bad_deploy = Scenario(
        name="bad-deploy",
        # The change the platform sees by itself: payment's spans carry a new service.version.
        description="payment deploys 2.0.0, which fails 30% of requests",
        target=PAYMENT,
        fault=FaultKind.DEPLOY,
        amount=0.3,
        version="2.0.0",
        cause_service=PAYMENT,
        cause_kinds=frozenset({ERROR_RATIO}),
    )
    # New scenarios go at the end: the order is part of what a seed reproduces.
    return (
        _errors(PAYMENT, 1.0),
        _errors(PAYMENT, 0.2),
        _latency(PAYMENT, 300),
        _errors(INVENTORY, 0.5),
        _latency(INVENTORY, 200),
        _errors(FRONTEND, 0.5),
        cascade,
        db_slow,
        one_bad_instance,
        pool_leak,
        bad_deploy,
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
