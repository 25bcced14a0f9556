"""Which incident an anomaly belongs to.

Anomalies that overlap in time and are connected in the service graph are one problem.

Connected: the anomaly's service is one of the incident's services, calls or is called by one of
them, or shares a caller with one of them.

Overlapping in time: the anomaly began while the incident's trouble *at its root cause* was on,
or at most a grace period after it ended. Overlap with any member is not enough: a caller can stay
a little slow for minutes after its callee recovered, and a fault that starts next to that
lingering symptom is a new problem, not more of the old one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import NamedTuple
from uuid import UUID

from aiops_incidents.lifecycle import current_episode, last_cleared
from aiops_incidents.schemas import RootCauseCandidate


@dataclass(frozen=True)
class Member:
    service: str
    started_at: datetime
    cleared_at: datetime | None


@dataclass(frozen=True)
class ActiveIncident:
    id: UUID
    opened_at: datetime
    root_service: str | None
    members: tuple[Member, ...]

    @property
    def services(self) -> frozenset[str]:
        return frozenset(member.service for member in self.members)

    def root_trouble_ended(self) -> datetime | None:
        """When the anomalies on the root-cause service all cleared; None while one is open.
        Without a member there (the cause was found in the traces alone), every member counts."""
        root = [m for m in self.members if m.service == self.root_service] or list(self.members)
        return last_cleared([m.cleared_at for m in root])

    def overlaps(self, started_at: datetime, grace: timedelta) -> bool:
        ended = self.root_trouble_ended()
        return ended is None or started_at <= ended + grace


class ServiceGraph:
    def __init__(self, edges: Iterable[tuple[str, str]], peers: Collection[str] = ()) -> None:
        """`peers`: the nodes that send no spans (inferred from their callers' client spans)."""
        self.edges = [(source, target) for source, target in edges if source != target]
        self._peers = frozenset(peers)
        self._callers: dict[str, set[str]] = defaultdict(set)
        self._callees: dict[str, set[str]] = defaultdict(set)
        for source, target in self.edges:
            self._callees[source].add(target)
            self._callers[target].add(source)

    def near(self, service: str) -> set[str]:
        """The service, the services it calls or is called by, and the other services its
        callers call: when a callee fails, its caller suffers and calls its other callees less
        (their traffic drops), so siblings take part in the same problem. A peer that sends no
        spans is seen only through its callers, so it is as near as they are, both ways: the
        database only inventory calls is near the frontend that calls inventory."""
        near = self._near(service)
        if service in self._peers:
            for caller in self._callers.get(service, ()):
                near |= self._near(caller)
        return near | {peer for peer in self._peers if self._callers.get(peer, set()) & near}

    def _near(self, service: str) -> set[str]:
        callers = self._callers.get(service, set())
        siblings = {sibling for caller in callers for sibling in self._callees.get(caller, ())}
        return {service, *callers, *self._callees.get(service, ()), *siblings}


def incident_for(
    service: str,
    started_at: datetime,
    active: Sequence[ActiveIncident],
    graph: ServiceGraph,
    grace: timedelta,
) -> ActiveIncident | None:
    """The incident an anomaly on `service` that began at `started_at` joins: of the connected
    ones it overlaps, the one opened first (a later one is more likely a part of the same problem
    than the start of a new one)."""
    near = graph.near(service)
    current = []
    for incident in active:
        # A reopened incident is judged by its trouble since it reopened, not by its older fault.
        episode = replace(incident, members=tuple(current_episode(incident.members, grace)))
        if episode.services & near and episode.overlaps(started_at, grace):
            current.append(incident)
    return min(current, key=lambda i: (i.opened_at, str(i.id)), default=None)


class RootKey(NamedTuple):
    """What an incident is about: its root cause's series and kind, and the instance when the
    cause is one instance (its fingerprint then says so: another instance failing the same way
    is another incident)."""

    service: str
    operation: str
    kind: str
    instance: str | None = None

    @classmethod
    def of(cls, candidate: RootCauseCandidate) -> RootKey:
        return cls(candidate.service, candidate.operation, candidate.kind.value, candidate.instance)

    @property
    def fingerprint(self) -> str:
        series = f"{self.service}|{self.operation}|{self.kind}"
        return f"{series}|{self.instance}" if self.instance else series

    def as_dict(self) -> dict[str, str]:
        """As the timeline shows it; `instance` only when there is one."""
        found = {"service": self.service, "operation": self.operation, "kind": self.kind}
        return found | ({"instance": self.instance} if self.instance else {})
