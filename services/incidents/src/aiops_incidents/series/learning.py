"""Whether a series is still learning, from what the detector records each time it learns the
series' baseline (`series_learning`): each measure's seconds of healthy history and how many it
needs. While a measure learns, only the floors judge it, so "ok" would say more than the platform
knows: the API and the web UI say "learning" instead."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiops_incidents.series.schemas import Learning

# A series the detector has not learned for this long no longer has traffic: it says nothing
# about its service now.
STALE_AFTER = timedelta(minutes=15)


def learning_of(
    history_s: dict[str, float], min_history_s: float, measured_at: datetime, now: datetime
) -> Learning:
    """The learning state as of `now`: each measure keeps learning, while the series is healthy,
    for the time elapsed since the detector measured it."""
    least = min(history_s.values(), default=0.0)
    elapsed = max(0.0, (now - measured_at).total_seconds())
    learning = least < min_history_s
    return Learning(
        learning=learning,
        remaining_s=round(max(0.0, min_history_s - least - elapsed), 1) if learning else 0.0,
        history_s=history_s,
        min_history_s=min_history_s,
        measured_at=measured_at,
    )
