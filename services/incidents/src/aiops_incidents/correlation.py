"""Which incident an anomaly belongs to.

Anomalies that overlap in time and are connected in the service graph are one problem. An
unresolved incident is current by definition (one of its anomalies is open, or cleared less than
the resolve cooldown ago), so the test left is the graph: the anomaly's service is one of the
incident's services, calls or is called by one of them, or shares a caller with one of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class ActiveIncident:
    id: UUID
    fingerprint: str
    opened_at: datetime
    services: frozenset[str]


class ServiceGraph:
    def __init__(self, edges: Iterable[tuple[str, str]]) -> None:
        self.edges = [(source, target) for source, target in edges if source != target]
        self._callers: dict[str, set[str]] = defaultdict(set)
        self._callees: dict[str, set[str]] = defaultdict(set)
        for source, target in self.edges:
            self._callees[source].add(target)
            self._callers[target].add(source)

    def near(self, service: str) -> set[str]:
        """The service, the services it calls or is called by, and the other services its
        callers call: when a callee fails, its caller suffers and calls its other callees less
        (their traffic drops), so siblings take part in the same problem."""
        callers = self._callers.get(service, set())
        siblings = {sibling for caller in callers for sibling in self._callees.get(caller, ())}
        return {service, *callers, *self._callees.get(service, ()), *siblings}


def incident_for(
    service: str, active: Sequence[ActiveIncident], graph: ServiceGraph
) -> ActiveIncident | None:
    """The incident the anomaly on `service` joins: of the connected ones, the one opened first
    (a later one is more likely a part of the same problem than the start of a new one)."""
    near = graph.near(service)
    connected = [incident for incident in active if incident.services & near]
    return min(connected, key=lambda i: (i.opened_at, str(i.id)), default=None)


def fingerprint(service: str, operation: str, kind: str) -> str:
    return f"{service}|{operation}|{kind}"
