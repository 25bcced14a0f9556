"""The scorecard for people (a table per fault, totals, targets) and for programs (JSON)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from aiops_shop.chaos.incidents_api import CandidateView
from aiops_shop.chaos.matching import Opening
from aiops_shop.chaos.scorecard import FaultScore, Scorecard, ranked

_COLUMNS = (
    ("#", 3),
    ("scenario", 22),
    ("ground truth", 30),
    ("injected", 10),
    ("lasted", 8),
    ("incidents", 10),
    ("MTTD", 8),
    ("warning", 9),
    ("rank", 5),
    ("AC@1", 5),
    ("AC@3", 5),
    ("change", 7),
    ("auto-resolve", 12),
)


def _row(cells: tuple[str, ...]) -> str:
    return "".join(f"{cell:<{width}} " for cell, (_, width) in zip(cells, _COLUMNS, strict=True)).rstrip()


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _candidate(candidate: CandidateView) -> str:
    on = f" on {candidate.instance}" if candidate.instance else ""
    return f"{candidate.service} {candidate.operation} {candidate.kind}{on} {candidate.score:.2f}"


def _opening_line(opening: Opening) -> str:
    top = ranked(opening.incident)
    cause = _candidate(top[0]) if top else "no candidate"
    verb = "reopened" if opening.reopened else "opened"
    if opening.resolved_at is None:
        end = "still open"
    else:
        end = f"resolved {opening.resolved_at:%H:%M:%S} by {opening.resolved_by}"
    return f"{opening.opened_at:%H:%M:%S} {verb} {opening.incident.title!r}; root cause {cause}; {end}"


def _auto_resolve(score: FaultScore) -> str:
    if not score.openings:
        return "-"
    if score.auto_resolve_s is None:
        return "not auto"
    return _seconds(score.auto_resolve_s)


def render(card: Scorecard) -> str:
    lines = [_row(tuple(name for name, _ in _COLUMNS))]
    for number, score in enumerate(card.faults, start=1):
        fault, rank = score.fault, score.rank
        reopened = " (reopen)" if any(o.reopened for o in score.openings) else ""
        lines.append(
            _row(
                (
                    str(number),
                    fault.scenario.name,
                    fault.scenario.truth,
                    f"{fault.injected_at:%H:%M:%S}",
                    _seconds((fault.ended_at - fault.injected_at).total_seconds()),
                    f"{len(score.openings)}{reopened}",
                    _seconds(score.mttd_s),
                    _seconds(score.warning_s),
                    "-" if rank is None else str(rank),
                    _yes(rank == 1),
                    _yes(rank is not None and rank <= 3),
                    "-" if score.change_named is None else _yes(score.change_named),
                    _auto_resolve(score),
                )
            )
        )
        lines.extend(f"      {_opening_line(opening)}" for opening in score.openings)
    totals = card.totals
    lines += [
        "",
        f"faults {totals.faults}  detected {totals.detected}  AC@1 {totals.ac1:.2f} "
        f"(service only {totals.ac1_service:.2f})  AC@3 {totals.ac3:.2f}  "
        f"exactly one incident {totals.one_incident_share:.0%}  "
        f"MTTD median {_seconds(totals.mttd_median_s)}  false alarms {totals.false_alarms}",
        "",
    ]
    width = max(len(check.name) for check in card.targets)
    for check in card.targets:
        verdict = "PASS" if check.passed else "FAIL"
        lines.append(f"{verdict}  {check.name:<{width}}  {check.measured:<20} target {check.target}")
    if card.false_alarms:
        lines += ["", "incidents during normal load:"]
        lines += [f"      {_opening_line(opening)}" for opening in card.false_alarms]
    return "\n".join(lines)


def _time(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _opening_json(opening: Opening) -> dict[str, Any]:
    return {
        "incident_id": opening.incident.id,
        "title": opening.incident.title,
        "opened_at": _time(opening.opened_at),
        "reopened": opening.reopened,
        "started_at": _time(opening.started_at),
        "resolved_at": _time(opening.resolved_at),
        "resolved_by": opening.resolved_by,
        "top_candidates": [candidate.model_dump() for candidate in ranked(opening.incident)[:3]],
    }


def as_json(card: Scorecard, run: dict[str, Any]) -> dict[str, Any]:
    """The whole scorecard as JSON-ready data; `run` says how it was run (seed, times, options)."""
    faults = []
    for score in card.faults:
        scenario, rank = score.fault.scenario, score.rank
        faults.append(
            {
                "scenario": scenario.name,
                "description": scenario.description,
                "truth": {
                    "service": scenario.cause_service,
                    "kinds": sorted(scenario.cause_kinds),
                    "instance": scenario.cause_instance,
                },
                "injected_at": _time(score.fault.injected_at),
                "ended_at": _time(score.fault.ended_at),
                "incidents": [_opening_json(opening) for opening in score.openings],
                "mttd_s": score.mttd_s,
                "first_failure_at": _time(score.fault.first_failure_at),
                "warning_s": score.warning_s,
                "rank": rank,
                "service_rank": score.service_rank,
                "ac1": rank == 1,
                "ac3": rank is not None and rank <= 3,
                "change_named": score.change_named,
                "auto_resolve_s": score.auto_resolve_s,
            }
        )
    return {
        "run": run,
        "faults": faults,
        "false_alarms": [_opening_json(opening) for opening in card.false_alarms],
        "totals": asdict(card.totals),
        "targets": [asdict(check) for check in card.targets],
    }
