"""Changes in root-cause ranking: a change to a candidate (a deploy, a config change) in the
`CHANGE_WINDOW` before its trouble began is often the answer to "what changed?". It raises the
candidate's blame by `CHANGE_BOOST` (before the candidates' shares are taken) and is named in its
evidence and reason. A change to a service with no trouble adds nothing: only candidates are
looked at.

A change seen in the spans is dated by the new version's first span, while an anomaly starts at
the beginning of the window it was found in, so a change up to `CHANGE_GRACE` after the trouble
began still counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from aiops_core.models import AnomalyKind
from aiops_incidents.schemas import CandidateChange, Change, ChangeKind

CHANGE_WINDOW = timedelta(minutes=15)
CHANGE_GRACE = timedelta(seconds=60)
CHANGE_BOOST = 1.0

_TROUBLE_WORDS = {
    AnomalyKind.ERROR_RATIO: "its errors began",
    AnomalyKind.LATENCY: "it slowed down",
    AnomalyKind.TRAFFIC_DROP: "its traffic dropped",
    AnomalyKind.TRAFFIC_SURGE: "its traffic surged",
}
_DONE_WORDS = {
    ChangeKind.DEPLOY: "deployed",
    ChangeKind.CONFIG: "configured",
    ChangeKind.FEATURE_FLAG: "flag changed",
    ChangeKind.SCALE: "scaled",
    ChangeKind.OTHER: "changed",
}


def changes_before(changes: Sequence[Change], began: datetime) -> list[CandidateChange]:
    """The changes in the window before `began` (or just after it), latest first."""
    return [
        CandidateChange(
            id=change.id,
            kind=change.kind,
            at=change.at,
            summary=change.summary,
            old_version=change.old_version,
            new_version=change.new_version,
            before_s=round((began - change.at).total_seconds(), 1),
        )
        for change in sorted(changes, key=lambda c: c.at, reverse=True)
        if began - CHANGE_WINDOW <= change.at <= began + CHANGE_GRACE
    ]


def change_words(service: str, kind: AnomalyKind, change: CandidateChange) -> str:
    """'payment 1.4.2 → 1.5.0 deployed 38 s before its errors began' (or 'as its errors began')."""
    if change.old_version and change.new_version:
        what = f"{service} {change.old_version} → {change.new_version}"
    elif change.new_version:
        what = f"{service} {change.new_version}"
    else:
        what = change.summary or service
    trouble = _TROUBLE_WORDS.get(kind, "its trouble began")
    # Within a second, or after the start of the window the trouble was found in: as it began.
    when = f"{change.before_s:.0f} s before {trouble}" if change.before_s >= 1 else f"as {trouble}"
    return f"{what} {_DONE_WORDS[change.kind]} {when}"
