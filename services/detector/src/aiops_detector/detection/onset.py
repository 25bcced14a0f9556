"""When an anomaly began: the first second that was out of line, not the start of the window
that caught it.

Each second of the recent past is out of line or not (or has nothing to judge: no requests).
The onset is the start of the stretch, up to now, with the most seconds out of line net of those
in line (the change point a CUSUM with steps of +1 and -1 finds): a stray failure a few seconds
before the fault does not pull the start back, and a lucky second inside the fault does not push
it forward. A run of `gap_s` seconds in line ends the search: what came before it was another
episode (an anomaly clears after as long in line), so a fault repeated soon after recovery starts
when it was repeated, not when it first began.
"""

from __future__ import annotations

from collections.abc import Sequence


def onset(flags: Sequence[tuple[int, bool | None]], gap_s: int) -> int | None:
    """The second the trouble began, from (second, out of line) pairs in time order; None when
    no second was out of line."""
    best, best_at, net, in_line_since = 0, None, 0, None
    for second, out in reversed(flags):
        if out is None:
            continue
        if out:
            in_line_since = None
        else:
            in_line_since = in_line_since or second
            if in_line_since - second + 1 >= gap_s:
                break
        net += 1 if out else -1
        if out and net >= best:
            best, best_at = net, second
    return best_at
