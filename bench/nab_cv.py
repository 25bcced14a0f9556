"""Leave-one-category-out cross-validation of the streaming scorer on NAB.

The corpus' files fall into categories (their folder: artificialNoAnomaly, realAWSCloudwatch,
...). For each category in turn, the scorer's parameter set (one of a small grid) and the
threshold are chosen on the other categories only — the pair with the best NAB score there — and
the held-out category is scored with that pair. Scores are computed once per parameter set and
reused by every fold.

How a held-out category is scored:

- a category with windows: NAB's normalised score over its own files and windows,
  `100 * (S - S_null) / (S_perfect - S_null)`; the headline **CV mean** is the mean of these;
- a category with no windows (artificialNoAnomaly) has no normaliser of its own (S_perfect =
  S_null = 0): it is reported separately, by its false positives and their raw cost, and counts
  in the **pooled** score below, not in the mean;
- the **pooled** held-out score sums every fold's raw held-out score (each at its own fold's
  parameters and threshold) over all files and normalises it once over all windows, the way NAB
  scores a corpus; the false positives of a category without windows cost here what they would
  in any corpus.

The in-sample figure chooses the parameter set and threshold on all files and scores the same
files: what the scorer's defaults were chosen by, and an optimistic estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.nab_scoring import (
    LabelledFile,
    Profile,
    best_of_curve,
    count_detections,
    curve_from_steps,
    normalise,
    null_and_perfect,
    score_file,
    step_changes,
)


@dataclass(frozen=True)
class Candidate:
    """One parameter set's scores for every file of the corpus (in the corpus' order)."""

    label: str
    scores: Sequence[np.ndarray]


@dataclass(frozen=True)
class Choice:
    """A parameter set and threshold chosen on some files, and the score they got there."""

    label: str
    threshold: float
    score: float


@dataclass(frozen=True)
class FoldResult:
    category: str
    chosen: Choice  # on the other categories
    windows: int
    detections: int
    raw: float  # the held-out files' raw (unnormalised) NAB score at the chosen pair
    held_out: float | None  # normalised on the held-out windows; None without windows


@dataclass(frozen=True)
class CrossValidation:
    profile: str
    in_sample: Choice
    folds: tuple[FoldResult, ...]
    pooled: float

    @property
    def mean(self) -> float:
        """The mean held-out score over the categories that have windows."""
        scored = [fold.held_out for fold in self.folds if fold.held_out is not None]
        return float(np.mean(scored))


def category_of(file: LabelledFile) -> str:
    return file.name.split("/", 1)[0]


class CurveCache:
    """Each (candidate, file)'s threshold steps for one profile, computed once for every fold."""

    def __init__(
        self, files: Sequence[LabelledFile], candidates: Sequence[Candidate], profile: Profile
    ) -> None:
        self.files = files
        self.candidates = candidates
        self.profile = profile
        self._steps = [
            [step_changes(file, scores, profile) for file, scores in zip(files, c.scores, strict=True)]
            for c in candidates
        ]

    def choose(self, indices: Sequence[int]) -> Choice:
        """The candidate and threshold with the best normalised score on the files at `indices`
        (ties: the earlier candidate in the grid, then the higher threshold)."""
        files = [self.files[i] for i in indices]
        best: Choice | None = None
        for candidate, steps in zip(self.candidates, self._steps, strict=True):
            scores = [candidate.scores[i] for i in indices]
            curve = curve_from_steps(files, scores, [steps[i] for i in indices], self.profile)
            threshold, score = best_of_curve(*curve)
            if best is None or score > best.score:
                best = Choice(candidate.label, threshold, score)
        assert best is not None, "no candidates"
        return best


def cross_validate(
    files: Sequence[LabelledFile], candidates: Sequence[Candidate], profile: Profile
) -> CrossValidation:
    cache = CurveCache(files, candidates, profile)
    by_label = {candidate.label: candidate for candidate in candidates}
    categories = sorted({category_of(file) for file in files})
    folds = []
    for category in categories:
        held = [i for i, file in enumerate(files) if category_of(file) == category]
        training = [i for i, file in enumerate(files) if category_of(file) != category]
        chosen = cache.choose(training)
        scores = by_label[chosen.label].scores
        held_files = [files[i] for i in held]
        held_scores = [scores[i] for i in held]
        raw = sum(
            score_file(file, list(scores >= chosen.threshold), profile)
            for file, scores in zip(held_files, held_scores, strict=True)
        )
        s_null, s_perfect = null_and_perfect(held_files, profile)
        windows = sum(len(f.windows) for f in held_files)
        folds.append(
            FoldResult(
                category=category,
                chosen=chosen,
                windows=windows,
                detections=count_detections(held_files, held_scores, chosen.threshold),
                raw=raw,
                held_out=normalise(raw, s_null, s_perfect) if windows else None,
            )
        )
    pooled = normalise(sum(fold.raw for fold in folds), *null_and_perfect(files, profile))
    return CrossValidation(profile.name, cache.choose(range(len(files))), tuple(folds), pooled)


def report(result: CrossValidation) -> list[str]:
    lines = [
        f"{result.profile}: in-sample {result.in_sample.score:.1f} "
        f"({result.in_sample.label}, threshold {result.in_sample.threshold:.4f}); "
        f"cross-validated mean {result.mean:.1f}, pooled {result.pooled:.1f}",
    ]
    for fold in result.folds:
        held = f"{fold.held_out:6.1f}" if fold.held_out is not None else "   n/a"
        lines.append(
            f"  held out {fold.category:<22} {held}  (raw {fold.raw:+7.2f}, {fold.windows:>2} windows, "
            f"{fold.detections:>3} detections; chosen on the rest: {fold.chosen.label}, "
            f"threshold {fold.chosen.threshold:.4f}, {fold.chosen.score:.1f} there)"
        )
    return lines
