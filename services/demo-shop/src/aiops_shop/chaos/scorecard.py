"""How well the platform handled the faults: the scores of each fault and the totals over all,
against their targets. Pure: no I/O, no clock. (Which incident belongs to which fault: `matching`.)

Per fault: MTTD is its first opening minus the injection; AC@1 and AC@3 ask whether that
incident's candidates (as ranked when read, at the end of the run) name the ground truth first, or
in the top three: same service and an accepted kind, and the same instance when the fault is in
one instance (the usual RCA literature scores only the service; that looser figure is reported
too). For a deploy, whether the top candidate's evidence names the new version. Auto-resolve is
how long after the fault's end every one of its openings was resolved by the platform (actor
`system`); one still open or resolved by a person has none.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from aiops_shop.chaos.incidents_api import CandidateView, IncidentView
from aiops_shop.chaos.matching import SYSTEM_ACTOR, FaultRun, Opening, assign
from aiops_shop.chaos.scenarios import Scenario

TARGET_AC1 = 0.9
TARGET_ONE_INCIDENT_SHARE = 0.9
TARGET_MTTD_MEDIAN_S = 10.0
TARGET_AUTO_RESOLVE_S = 90.0


def ranked(incident: IncidentView) -> list[CandidateView]:
    """Candidates by score, highest first (the API's order among equals)."""
    candidates = incident.candidates or ([incident.root_cause] if incident.root_cause else [])
    return sorted(candidates, key=lambda candidate: -candidate.score)


def names_the_truth(candidate: CandidateView, scenario: Scenario, *, service_only: bool = False) -> bool:
    """The right service; unless `service_only`, also an accepted kind and, when one instance
    carries the fault, that instance."""
    if candidate.service != scenario.cause_service:
        return False
    if service_only:
        return True
    return candidate.kind in scenario.cause_kinds and (
        scenario.cause_instance is None or candidate.instance == scenario.cause_instance
    )


def cause_rank(incident: IncidentView, scenario: Scenario, *, service_only: bool = False) -> int | None:
    """1-based rank of the first candidate naming the ground truth, None if none does."""
    for rank, candidate in enumerate(ranked(incident), start=1):
        if names_the_truth(candidate, scenario, service_only=service_only):
            return rank
    return None


@dataclass(frozen=True)
class FaultScore:
    fault: FaultRun
    openings: list[Opening]

    @property
    def first(self) -> Opening | None:
        return self.openings[0] if self.openings else None

    @property
    def mttd_s(self) -> float | None:
        first = self.first
        return None if first is None else (first.opened_at - self.fault.injected_at).total_seconds()

    @property
    def warning_s(self) -> float | None:
        """How long before the fault's first failed request its incident opened (negative:
        after); None where the shop does not say when that was."""
        first, failed = self.first, self.fault.first_failure_at
        return None if first is None or failed is None else (failed - first.opened_at).total_seconds()

    @property
    def rank(self) -> int | None:
        return None if self.first is None else cause_rank(self.first.incident, self.fault.scenario)

    @property
    def change_named(self) -> bool | None:
        """For a deploy: whether its incident's top candidate names the new version among its
        changes; None for other faults."""
        version, first = self.fault.scenario.version, self.first
        if version is None:
            return None
        top = ranked(first.incident) if first is not None else []
        return bool(top) and any(change.new_version == version for change in top[0].evidence.changes)

    @property
    def service_rank(self) -> int | None:
        first = self.first
        return None if first is None else cause_rank(first.incident, self.fault.scenario, service_only=True)

    def resolve_s(self, opening: Opening) -> float | None:
        """Seconds from the fault's end to the platform resolving `opening`; None if it did not."""
        if opening.resolved_at is None or opening.resolved_by != SYSTEM_ACTOR:
            return None
        return (opening.resolved_at - self.fault.ended_at).total_seconds()

    @property
    def auto_resolve_s(self) -> float | None:
        """The latest of its openings' auto-resolve times; None if any was not auto-resolved."""
        times = [self.resolve_s(opening) for opening in self.openings]
        if not times or any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)


@dataclass(frozen=True)
class Totals:
    faults: int
    detected: int
    ac1: float
    ac3: float
    ac1_service: float
    one_incident_share: float
    mttd_median_s: float | None
    worst_auto_resolve_s: float | None  # None when some opening was not auto-resolved, or none
    not_auto_resolved: int
    false_alarms: int


@dataclass(frozen=True)
class TargetCheck:
    name: str
    measured: str
    target: str
    passed: bool


@dataclass(frozen=True)
class Scorecard:
    faults: list[FaultScore]
    false_alarms: list[Opening]
    totals: Totals
    targets: list[TargetCheck]


def score(faults: Sequence[FaultRun], incidents: Sequence[IncidentView], run_started: datetime) -> Scorecard:
    ordered = sorted(faults, key=lambda fault: fault.injected_at)
    per_fault, false_alarms = assign(ordered, incidents, run_started)
    scores = [FaultScore(fault, found) for fault, found in zip(ordered, per_fault, strict=True)]
    totals = _totals(scores, false_alarms)
    return Scorecard(scores, false_alarms, totals, _targets(totals))


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def _totals(scores: Sequence[FaultScore], false_alarms: Sequence[Opening]) -> Totals:
    n = len(scores)
    ranks = [s.rank for s in scores]
    mttds = [s.mttd_s for s in scores if s.mttd_s is not None]
    resolve_times = [s.resolve_s(o) for s in scores for o in s.openings]
    not_resolved = sum(t is None for t in resolve_times)
    return Totals(
        faults=n,
        detected=len(mttds),
        ac1=_share(sum(r == 1 for r in ranks), n),
        ac3=_share(sum(r is not None and r <= 3 for r in ranks), n),
        ac1_service=_share(sum(s.service_rank == 1 for s in scores), n),
        one_incident_share=_share(sum(len(s.openings) == 1 for s in scores), n),
        mttd_median_s=statistics.median(mttds) if mttds else None,
        worst_auto_resolve_s=None
        if not_resolved or not resolve_times
        else max(t for t in resolve_times if t is not None),
        not_auto_resolved=not_resolved,
        false_alarms=len(false_alarms),
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _targets(totals: Totals) -> list[TargetCheck]:
    # A figure that could not be measured (no fault, nothing detected) fails its target.
    resolve = _seconds(totals.worst_auto_resolve_s)
    if totals.not_auto_resolved:
        resolve = f"{totals.not_auto_resolved} not auto-resolved"
    return [
        TargetCheck(
            "AC@1 (service, kind, instance)",
            f"{totals.ac1:.2f}",
            f">= {TARGET_AC1}",
            totals.faults > 0 and totals.ac1 >= TARGET_AC1,
        ),
        TargetCheck(
            "faults with exactly one incident",
            f"{totals.one_incident_share:.0%}",
            f">= {TARGET_ONE_INCIDENT_SHARE:.0%}",
            totals.faults > 0 and totals.one_incident_share >= TARGET_ONE_INCIDENT_SHARE,
        ),
        TargetCheck(
            "MTTD median",
            _seconds(totals.mttd_median_s),
            f"<= {TARGET_MTTD_MEDIAN_S:g} s",
            totals.mttd_median_s is not None and totals.mttd_median_s <= TARGET_MTTD_MEDIAN_S,
        ),
        TargetCheck(
            "auto-resolve after the fault ends (worst)",
            resolve,
            f"<= {TARGET_AUTO_RESOLVE_S:g} s",
            totals.worst_auto_resolve_s is not None and totals.worst_auto_resolve_s <= TARGET_AUTO_RESOLVE_S,
        ),
        TargetCheck("incidents during normal load", str(totals.false_alarms), "0", totals.false_alarms == 0),
    ]
