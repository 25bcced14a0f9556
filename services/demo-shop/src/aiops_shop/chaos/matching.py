"""Which incident belongs to which fault, read from the incidents the API shows. Pure: no I/O.

The matching rule:

- An incident's *openings* are when it opened and each time it reopened (its timeline's `opened`
  and `reopened` events; `opened_at` if the timeline has no `opened`). Each opening counts as an
  incident of its own: the platform reopens an incident whose root cause fires again soon after it
  resolved, so a second fault on the same service may show up as a reopening, not a new incident.
- A fault's window is [injection - 5 s, fault end + 30 s]: 5 s for clocks and for anomaly windows
  that began just before the injection, 30 s for detection that lags the end of a short fault and
  for trouble the recovery itself causes (both are the fault's doing, not false alarms). When
  faults are closer than that, a window ends where the next one begins, so windows never overlap.
- An opening belongs to the fault whose window holds its time; failing that, the first opening
  belongs to the fault whose window holds the incident's `started_at` (its earliest anomaly began
  during the fault, though it opened later). The root cause it names plays no part: an incident
  the fault opened that blames another service still counts for the fault (its ranking is wrong).
- Any other opening since the run started is a false alarm: an incident during normal load.
  Openings before the run are not its business.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiops_shop.chaos.incidents_api import IncidentView
from aiops_shop.chaos.scenarios import Scenario

BEFORE_INJECTION = timedelta(seconds=5)
AFTER_END = timedelta(seconds=30)
SYSTEM_ACTOR = "system"  # who the timeline says acted when the platform did it itself


@dataclass(frozen=True)
class FaultRun:
    """A fault as it happened: injected when the shop confirmed it, ended when its reset returned."""

    scenario: Scenario
    injected_at: datetime
    ended_at: datetime
    # When a request first failed of the fault, where the shop says (a leak's pool running dry).
    first_failure_at: datetime | None = None


@dataclass(frozen=True)
class Opening:
    """An incident from one opening (its first, or a reopening) to the resolution that followed."""

    incident: IncidentView
    opened_at: datetime
    reopened: bool
    resolved_at: datetime | None
    resolved_by: str | None

    @property
    def started_at(self) -> datetime | None:
        """When its earliest anomaly began: known for the first opening only."""
        return None if self.reopened else self.incident.started_at


def openings(incident: IncidentView) -> list[Opening]:
    events = sorted(incident.timeline, key=lambda event: event.at)
    opened = [event.at for event in events if event.type == "opened"] or [incident.opened_at]
    starts = [(opened[0], False)] + [(event.at, True) for event in events if event.type == "reopened"]
    resolutions = [event for event in events if event.type == "resolved"]
    result = []
    for index, (at, reopened) in enumerate(starts):
        next_start = starts[index + 1][0] if index + 1 < len(starts) else None
        ending = next(
            (r for r in resolutions if r.at >= at and (next_start is None or r.at <= next_start)), None
        )
        resolved_at, resolved_by = (ending.at, ending.actor) if ending else (None, None)
        final = incident.resolved_at if incident.status == "resolved" else None
        if next_start is None and final is not None and final >= at:
            # The last opening ends at `resolved_at`, the API's own word; the timeline says who did
            # it (the platform, when it says nothing).
            resolved_at, resolved_by = final, resolved_by or SYSTEM_ACTOR
        result.append(Opening(incident, at, reopened, resolved_at, resolved_by))
    return result


def windows(faults: Sequence[FaultRun]) -> list[tuple[datetime, datetime]]:
    """Each fault's window, in injection order, cut where the next fault's begins."""
    starts = [fault.injected_at - BEFORE_INJECTION for fault in faults]
    return [
        (start, min([fault.ended_at + AFTER_END, *starts[index + 1 : index + 2]]))
        for index, (start, fault) in enumerate(zip(starts, faults, strict=True))
    ]


def _window_of(at: datetime | None, spans: Sequence[tuple[datetime, datetime]]) -> int | None:
    if at is None:
        return None
    return next((index for index, (start, end) in enumerate(spans) if start <= at <= end), None)


def assign(
    faults: Sequence[FaultRun], incidents: Sequence[IncidentView], run_started: datetime
) -> tuple[list[list[Opening]], list[Opening]]:
    """The openings of each fault (in time order), and the false alarms: the openings during the
    run that belong to no fault. `faults` must be in injection order."""
    spans = windows(faults)
    per_fault: list[list[Opening]] = [[] for _ in faults]
    false_alarms = []
    for opening in sorted((o for i in incidents for o in openings(i)), key=lambda o: o.opened_at):
        index = _window_of(opening.opened_at, spans)
        if index is None:
            index = _window_of(opening.started_at, spans)
        if index is not None:
            per_fault[index].append(opening)
        elif opening.opened_at >= run_started:
            false_alarms.append(opening)
    return per_fault, false_alarms
