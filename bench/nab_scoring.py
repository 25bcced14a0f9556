"""NAB's scoring rules, as written in `shared/data/nab/README.md`, and the per-profile threshold search.

A file is scored from its detections (rows whose score is at least a threshold T):

- the first `min(floor(0.15 n), 750)` rows (probation) are ignored;
- a window's value is set by its earliest detection only, `tpW * sig(p) / sig(-1)` with
  `p = -(e - i + 1) / w`; a window with no detection costs `-fnW`;
- a detection outside every window costs `fpW * sig((i - e_prev) / (w_prev - 1))`, relative to the
  last window that ended before it, or `-fpW` when none has.

The corpus score is normalised with `S_null = -fnW * windows` and `S_perfect = tpW * windows`.

The threshold search does not re-score the corpus per candidate. Each false-positive row adds its
cost for every T at or below its score; each window's value changes only at the scores of its
"records" (rows scoring above every earlier row of the window), because the earliest detection at
threshold T is the first record with score >= T. So the corpus score as a function of T is a sum of
step changes, sorted once and accumulated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROFILE_NAMES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")


@dataclass(frozen=True)
class Profile:
    name: str
    tp_weight: float
    fn_weight: float
    fp_weight: float


@dataclass(frozen=True)
class LabelledFile:
    """One data file as the scorer sees it: its length and its windows as inclusive row ranges."""

    name: str
    rows: int
    windows: tuple[tuple[int, int], ...]

    @property
    def probation(self) -> int:
        return probation_rows(self.rows)


@dataclass(frozen=True)
class ProfileResult:
    profile: str
    threshold: float
    score: float
    detections: int


def probation_rows(rows: int) -> int:
    return min(math.floor(0.15 * rows), 750)


def sig(x: float) -> float:
    if x > 3:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


SIG_AT_WINDOW_START = sig(-1.0)


def load_profiles(path: Path) -> dict[str, Profile]:
    raw = json.loads(path.read_text())
    profiles = {}
    for name in PROFILE_NAMES:
        costs = raw[name]["CostMatrix"]
        profiles[name] = Profile(name, costs["tpWeight"], costs["fnWeight"], costs["fpWeight"])
    return profiles


def load_window_bounds(path: Path) -> dict[str, list[tuple[str, str]]]:
    """`{"<folder>/<file>.csv": [(start, end), ...]}` with timestamps cut to `YYYY-MM-DD HH:MM:SS`."""
    raw = json.loads(path.read_text())
    return {name: [(start[:19], end[:19]) for start, end in bounds] for name, bounds in raw.items()}


def window_rows(timestamps: Sequence[str], bounds: Iterable[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    """Window bounds (inclusive timestamps) as inclusive row ranges. Timestamps in the NAB format
    sort as strings, so rows are matched by comparison rather than by exact equality."""
    rows = []
    for start, end in bounds:
        inside = [i for i, ts in enumerate(timestamps) if start <= ts <= end]
        if inside:
            rows.append((inside[0], inside[-1]))
    return tuple(rows)


def window_value(row: int, window: tuple[int, int], profile: Profile) -> float:
    start, end = window
    width = end - start + 1
    position = -(end - row + 1) / width
    return profile.tp_weight * sig(position) / SIG_AT_WINDOW_START


def false_positive_costs(file: LabelledFile, profile: Profile) -> np.ndarray:
    """What a detection at each row costs if it is a false positive (0 inside windows and probation)."""
    costs = np.zeros(file.rows)
    previous: tuple[int, int] | None = None
    windows = sorted(file.windows)
    next_window = 0
    for row in range(file.probation, file.rows):
        while next_window < len(windows) and windows[next_window][1] < row:
            previous = windows[next_window]
            next_window += 1
        if any(start <= row <= end for start, end in windows):
            continue
        if previous is None:
            costs[row] = -profile.fp_weight
        else:
            end = previous[1]
            width = end - previous[0] + 1
            costs[row] = profile.fp_weight * sig((row - end) / max(width - 1, 1))
    return costs


def score_file(file: LabelledFile, detected: Sequence[bool], profile: Profile) -> float:
    """The raw (not normalised) score of one file for the rows marked as detections."""
    total = 0.0
    for window in file.windows:
        start = max(window[0], file.probation)
        earliest = next((row for row in range(start, window[1] + 1) if detected[row]), None)
        total += -profile.fn_weight if earliest is None else window_value(earliest, window, profile)
    costs = false_positive_costs(file, profile)
    total += float(sum(costs[row] for row in range(file.probation, file.rows) if detected[row]))
    return total


def null_and_perfect(files: Iterable[LabelledFile], profile: Profile) -> tuple[float, float]:
    windows = sum(len(file.windows) for file in files)
    return -profile.fn_weight * windows, profile.tp_weight * windows


def normalise(raw: float, s_null: float, s_perfect: float) -> float:
    return 100.0 * (raw - s_null) / (s_perfect - s_null)


def score_corpus(
    files: Sequence[LabelledFile], scores: Sequence[np.ndarray], threshold: float, profile: Profile
) -> float:
    """The normalised corpus score at one threshold (the direct, row-by-row computation)."""
    raw = sum(score_file(file, list(s >= threshold), profile) for file, s in zip(files, scores, strict=True))
    return normalise(raw, *null_and_perfect(files, profile))


def step_changes(file: LabelledFile, scores: np.ndarray, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """(threshold, change of raw score) pairs: lowering T to a threshold applies its change."""
    costs = false_positive_costs(file, profile)
    counted = np.arange(file.rows) >= file.probation
    outside = counted & (costs != 0)
    thresholds = [scores[outside]]
    changes = [costs[outside]]
    for window in file.windows:
        rows = range(max(window[0], file.probation), window[1] + 1)
        records: list[int] = []
        for row in rows:
            if not records or scores[row] > scores[records[-1]]:
                records.append(row)
        # From the highest record down: the window goes from missed to its last record's value,
        # then to each earlier record's value as T drops to that record's score.
        value_before = -profile.fn_weight
        window_thresholds = []
        window_changes = []
        for row in reversed(records):
            value = window_value(row, window, profile)
            window_thresholds.append(scores[row])
            window_changes.append(value - value_before)
            value_before = value
        thresholds.append(np.asarray(window_thresholds, dtype=float))
        changes.append(np.asarray(window_changes, dtype=float))
    return np.concatenate(thresholds), np.concatenate(changes)


def score_curve(
    files: Sequence[LabelledFile], scores: Sequence[np.ndarray], profile: Profile
) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct threshold worth trying (descending, with one above every score for "no
    detection") and the normalised corpus score at each."""
    parts = [step_changes(file, s, profile) for file, s in zip(files, scores, strict=True)]
    return curve_from_steps(files, scores, parts, profile)


def curve_from_steps(
    files: Sequence[LabelledFile],
    scores: Sequence[np.ndarray],
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    profile: Profile,
) -> tuple[np.ndarray, np.ndarray]:
    """`score_curve` from each file's `step_changes`, computed once and reused for many subsets
    of the files (the cross-validation folds)."""
    thresholds = np.concatenate([p[0] for p in parts])
    changes = np.concatenate([p[1] for p in parts])
    s_null, s_perfect = null_and_perfect(files, profile)
    all_scores = np.concatenate([np.asarray(s, dtype=float) for s in scores])
    candidates = np.unique(all_scores)[::-1]
    order = np.argsort(-thresholds, kind="stable")
    thresholds, changes = thresholds[order], changes[order]
    cumulative = np.cumsum(changes)
    # For each candidate T, every change whose threshold is >= T applies.
    applied = np.searchsorted(-thresholds, -candidates, side="right")
    raw = s_null + np.where(applied > 0, cumulative[np.maximum(applied - 1, 0)], 0.0)
    above_all = np.array([np.inf])
    return (
        np.concatenate([above_all, candidates]),
        normalise(np.concatenate([[s_null], raw]), s_null, s_perfect),
    )


def optimise_threshold(
    files: Sequence[LabelledFile], scores: Sequence[np.ndarray], profile: Profile
) -> tuple[float, float]:
    """The threshold with the best normalised corpus score, and that score. Ties go to the
    highest threshold (fewest detections)."""
    return best_of_curve(*score_curve(files, scores, profile))


def best_of_curve(thresholds: np.ndarray, normalised: np.ndarray) -> tuple[float, float]:
    best = int(np.argmax(normalised))
    return float(thresholds[best]), float(normalised[best])


def count_detections(files: Sequence[LabelledFile], scores: Sequence[np.ndarray], threshold: float) -> int:
    return int(
        sum(np.count_nonzero(s[file.probation :] >= threshold) for file, s in zip(files, scores, strict=True))
    )
