"""Leave-one-category-out cross-validation (bench/nab_cv.py) on a tiny corpus whose answers are known.

Three categories with windows (`alpha` with three, `beta` and `gamma` with one each) and one without
(`quiet`), scored by two "parameter sets": `sees_alpha` finds alpha's windows but misses the others
and fires a false positive in each of beta and gamma; `sees_rest` finds beta's and gamma's windows
and misses alpha's. Both fire once in the quiet file. On all files `sees_alpha` wins (alpha has
the most windows), but without alpha `sees_rest` does: a fold that holds alpha out must choose
`sees_rest` and score alpha at 0; had it peeked at alpha, it would have chosen `sees_alpha`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from bench.detect_nab import load_results
from bench.nab_cv import Candidate, category_of, cross_validate
from bench.nab_scoring import LabelledFile, Profile, normalise, optimise_threshold, score_corpus, score_file

STANDARD = Profile("standard", tp_weight=1.0, fn_weight=1.0, fp_weight=0.11)
ROWS = 40  # probation: 6 rows
WINDOW = (20, 24)
# (category, file, has a window)
LAYOUT = [
    ("alpha", "a1.csv", True),
    ("alpha", "a2.csv", True),
    ("alpha", "a3.csv", True),
    ("beta", "b1.csv", True),
    ("gamma", "g1.csv", True),
    ("quiet", "q1.csv", False),
]


def timestamp(row: int) -> str:
    return f"2015-09-01 00:{row:02d}:00"


def scores_for(category: str, has_window: bool, candidate: str) -> np.ndarray:
    scores = np.zeros(ROWS)
    if candidate == "sees_alpha":
        if category == "alpha":
            scores[WINDOW[0]] = 0.9
        elif category != "quiet":
            scores[10] = 0.9  # a false positive before the window
    elif has_window and category != "alpha":
        scores[WINDOW[0]] = 0.8
    if category == "quiet":
        scores[30] = 0.9 if candidate == "sees_alpha" else 0.85  # a false positive, no window anywhere
    return scores


def write_corpus(root: Path, candidate: str) -> tuple[list[LabelledFile], list[np.ndarray]]:
    """The scored files of one candidate, as `aiops detect-csv` writes them, loaded back the way
    bench/detect_nab.py loads them."""
    out = root / candidate
    labels: dict[str, list[list[str]]] = {}
    written = []
    for category, name, has_window in LAYOUT:
        relative = Path(category) / name
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["timestamp", "value", "anomaly_score"])
            for row, score in enumerate(scores_for(category, has_window, candidate)):
                writer.writerow([timestamp(row), "1.0", repr(float(score))])
        labels[relative.as_posix()] = (
            [[f"{timestamp(WINDOW[0])}.000000", f"{timestamp(WINDOW[1])}.000000"]] if has_window else []
        )
        written.append(relative)
    (root / "labels.json").write_text(json.dumps(labels))
    return load_results(out, written, root / "labels.json")


Corpus = tuple[list[LabelledFile], list[Candidate]]


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    candidates = []
    files: list[LabelledFile] = []
    for label in ("sees_alpha", "sees_rest"):
        files, scores = write_corpus(tmp_path, label)
        candidates.append(Candidate(label, scores))
    return files, candidates


def test_the_fixture_loads_as_intended(corpus: Corpus) -> None:
    files, _ = corpus
    assert [category_of(file) for file in files] == [category for category, _, _ in LAYOUT]
    assert [file.windows for file in files] == [(WINDOW,) if has else () for _, _, has in LAYOUT]


def test_a_fold_never_tunes_on_its_held_out_category(
    corpus: Corpus,
) -> None:
    files, candidates = corpus
    result = cross_validate(files, candidates, STANDARD)
    assert result.in_sample.label == "sees_alpha"
    folds = {fold.category: fold for fold in result.folds}
    assert folds["alpha"].chosen.label == "sees_rest"
    assert folds["alpha"].held_out == pytest.approx(0.0)  # all three windows missed
    # Holding out beta, alpha is in view: `sees_alpha` is chosen, and beta gets its false
    # positive and its miss: 100 * (-1 - 0.11 + 1) / 2.
    assert folds["beta"].chosen.label == "sees_alpha"
    assert folds["beta"].held_out == pytest.approx(-5.5)
    for fold in result.folds:
        training = [i for i, file in enumerate(files) if category_of(file) != fold.category]
        chosen = next(c for c in candidates if c.label == fold.chosen.label)
        expected = optimise_threshold(
            [files[i] for i in training], [chosen.scores[i] for i in training], STANDARD
        )
        assert (fold.chosen.threshold, fold.chosen.score) == (expected[0], pytest.approx(expected[1]))


def test_held_out_scores_are_normalised_on_their_own_windows(
    corpus: Corpus,
) -> None:
    files, candidates = corpus
    result = cross_validate(files, candidates, STANDARD)
    by_label = {candidate.label: candidate.scores for candidate in candidates}
    for fold in result.folds:
        held = [i for i, file in enumerate(files) if category_of(file) == fold.category]
        held_files = [files[i] for i in held]
        held_scores = [by_label[fold.chosen.label][i] for i in held]
        raw = sum(
            score_file(file, list(scores >= fold.chosen.threshold), STANDARD)
            for file, scores in zip(held_files, held_scores, strict=True)
        )
        assert fold.raw == pytest.approx(raw)
        if fold.windows:
            assert fold.held_out == pytest.approx(
                score_corpus(held_files, held_scores, fold.chosen.threshold, STANDARD)
            )


def test_a_category_without_windows_is_reported_apart_and_counts_in_the_pooled_score(
    corpus: Corpus,
) -> None:
    files, candidates = corpus
    result = cross_validate(files, candidates, STANDARD)
    quiet = next(fold for fold in result.folds if fold.category == "quiet")
    assert quiet.windows == 0
    assert quiet.held_out is None
    # Chosen on the rest, `sees_alpha` fires once in the quiet file, before any window: -fpW.
    assert quiet.chosen.label == "sees_alpha"
    assert quiet.detections == 1
    assert quiet.raw == pytest.approx(-0.11)
    held_out = [fold.held_out for fold in result.folds if fold.held_out is not None]
    assert result.mean == pytest.approx(sum(held_out) / 3)
    windows = sum(len(file.windows) for file in files)
    total_raw = sum(fold.raw for fold in result.folds)
    assert result.pooled == pytest.approx(normalise(total_raw, -windows, windows))
    assert result.pooled < normalise(total_raw + 0.11, -windows, windows)


def test_the_in_sample_choice_sees_every_file(corpus: Corpus) -> None:
    files, candidates = corpus
    result = cross_validate(files, candidates, STANDARD)
    best = max(
        ((c.label, *optimise_threshold(files, list(c.scores), STANDARD)) for c in candidates),
        key=lambda x: x[2],
    )
    assert (result.in_sample.label, result.in_sample.threshold) == best[:2]
    assert result.in_sample.score == pytest.approx(best[2])
