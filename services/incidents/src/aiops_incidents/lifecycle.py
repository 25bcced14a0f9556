"""The incident lifecycle as pure decisions: open -> acknowledged -> resolved, and back to open
when the same root cause fires again soon after. Times come from the caller's clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from aiops_core.errors import ConflictError
from aiops_incidents.schemas import IncidentStatus

SYSTEM = "system"


def next_status(current: IncidentStatus, wanted: IncidentStatus) -> IncidentStatus | None:
    """The status an action leads to, or None when the incident is already there (a repeated
    action changes nothing). Acknowledging a resolved incident is a conflict."""
    if current is wanted:
        return None
    if current is IncidentStatus.RESOLVED and wanted is IncidentStatus.ACKNOWLEDGED:
        raise ConflictError("the incident is resolved; it cannot be acknowledged")
    if wanted is IncidentStatus.OPEN:
        raise ConflictError("an incident reopens only when its root cause fires again")
    return wanted


def last_cleared(cleared_at: Sequence[datetime | None]) -> datetime | None:
    """When the last of these anomalies cleared; None while one is open (or there are none)."""
    if not cleared_at or any(at is None for at in cleared_at):
        return None
    return max(at for at in cleared_at if at is not None)


def resolvable(cleared_at: Sequence[datetime | None], now: datetime, cooldown: timedelta) -> bool:
    """Every member anomaly has cleared, the last one at least `cooldown` ago."""
    last = last_cleared(cleared_at)
    return last is not None and now - last >= cooldown


def reopenable(resolved_at: datetime | None, now: datetime, window: timedelta) -> bool:
    return resolved_at is not None and now - resolved_at <= window


class Trouble(Protocol):
    """A member anomaly as far as the lifecycle goes: when it began, and when it cleared."""

    @property
    def started_at(self) -> datetime: ...

    @property
    def cleared_at(self) -> datetime | None: ...


T = TypeVar("T", bound=Trouble)


def current_episode(members: Sequence[T], cooldown: timedelta) -> list[T]:
    """The member anomalies of the incident's latest episode, by start. An anomaly that began at
    least `cooldown` after every earlier one had cleared found the incident resolved: it reopened
    it, and starts a new episode. A reopened incident is ranked and measured on its new episode
    alone: the fault it was resolved from must not name the cause of the one that reopened it."""
    ordered = sorted(members, key=lambda anomaly: anomaly.started_at)
    start = 0
    calm_since: datetime | None = None  # when every member so far had cleared; None while one is open
    for index, anomaly in enumerate(ordered):
        if calm_since is not None and anomaly.started_at - calm_since >= cooldown:
            start = index
        if index == start:
            calm_since = anomaly.cleared_at
        elif calm_since is not None:
            calm_since = None if anomaly.cleared_at is None else max(calm_since, anomaly.cleared_at)
    return ordered[start:]
