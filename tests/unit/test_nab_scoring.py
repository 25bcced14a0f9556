"""NAB's scoring rules (bench/nab_scoring.py) on hand-computed cases and on the real label file.

Hand values: sig(x) = 2 / (1 + exp(5x)) - 1 = tanh(-2.5 x), so sig(-1) = tanh(2.5).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from bench.nab_scoring import (
    PROFILE_NAMES,
    LabelledFile,
    Profile,
    curve_from_steps,
    load_profiles,
    load_window_bounds,
    optimise_threshold,
    score_corpus,
    score_curve,
    score_file,
    step_changes,
    window_rows,
)

NAB = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nab"
STANDARD = Profile("standard", tp_weight=1.0, fn_weight=1.0, fp_weight=0.11)
LOW_FN = Profile("reward_low_FN_rate", tp_weight=1.0, fn_weight=2.0, fp_weight=0.11)

# 20 rows: probation is floor(0.15 * 20) = 3 rows; one window over rows 10..14 (width 5).
SMALL = LabelledFile("small.csv", rows=20, windows=((10, 14),))


def detections_at(*rows: int, file: LabelledFile = SMALL) -> list[bool]:
    return [row in rows for row in range(file.rows)]


def test_probation_is_fifteen_percent_capped_at_750() -> None:
    assert SMALL.probation == 3
    assert LabelledFile("x", 4032, ()).probation == 604
    assert LabelledFile("x", 22695, ()).probation == 750


def test_a_detection_at_the_first_row_of_a_window_is_worth_tp_weight() -> None:
    assert score_file(SMALL, detections_at(10), STANDARD) == pytest.approx(1.0)


def test_a_late_detection_in_a_window_is_worth_less() -> None:
    # Row 14 is the window's last row: p = -(14 - 14 + 1) / 5 = -0.2, sig(-0.2) = tanh(0.5).
    expected = math.tanh(0.5) / math.tanh(2.5)
    assert score_file(SMALL, detections_at(14), STANDARD) == pytest.approx(expected)
    assert expected == pytest.approx(0.468387, abs=1e-6)


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    # Row 12: p = -3 / 5 = -0.6, sig(-0.6) = tanh(1.5); the later row 13 adds nothing.
    expected = math.tanh(1.5) / math.tanh(2.5)
    assert score_file(SMALL, detections_at(12, 13), STANDARD) == pytest.approx(expected)
    assert score_file(SMALL, detections_at(12), STANDARD) == pytest.approx(expected)


def test_a_missed_window_costs_fn_weight() -> None:
    assert score_file(SMALL, detections_at(), STANDARD) == pytest.approx(-1.0)
    assert score_file(SMALL, detections_at(), LOW_FN) == pytest.approx(-2.0)


def test_a_false_positive_right_after_a_window_costs_little() -> None:
    # Row 15: x = (15 - 14) / (5 - 1) = 0.25, sig(0.25) = tanh(-0.625); the window is missed (-1).
    cost = 0.11 * math.tanh(-0.625)
    assert cost == pytest.approx(-0.061006, abs=1e-6)
    assert score_file(SMALL, detections_at(15), STANDARD) == pytest.approx(-1.0 + cost)


def test_a_false_positive_before_any_window_costs_fp_weight() -> None:
    assert score_file(SMALL, detections_at(5), STANDARD) == pytest.approx(-1.0 - 0.11)


def test_a_false_positive_long_after_a_window_costs_fp_weight() -> None:
    # x = (19 - 14) / 4 = 1.25: sig = tanh(-3.125), almost -1.
    assert score_file(SMALL, detections_at(19), STANDARD) == pytest.approx(-1.0 + 0.11 * math.tanh(-3.125))


def test_probation_rows_are_ignored() -> None:
    assert score_file(SMALL, detections_at(0, 1, 2), STANDARD) == pytest.approx(-1.0)
    # A window reaching into probation counts only from the first scored row.
    early = LabelledFile("early.csv", rows=20, windows=((1, 5),))
    assert score_file(early, detections_at(1, file=early), STANDARD) == pytest.approx(-1.0)
    assert score_file(early, detections_at(3, file=early), STANDARD) == pytest.approx(
        math.tanh(2.5 * 3 / 5) / math.tanh(2.5)
    )


def test_the_corpus_score_is_normalised_between_no_detection_and_perfect() -> None:
    scores = [np.zeros(SMALL.rows)]
    scores[0][12] = 1.0
    expected = 100 * (math.tanh(1.5) / math.tanh(2.5) + 1) / 2
    assert score_corpus([SMALL], scores, 0.5, STANDARD) == pytest.approx(expected)
    assert score_corpus([SMALL], [np.zeros(SMALL.rows)], 0.5, STANDARD) == pytest.approx(0.0)


def test_threshold_optimisation_picks_the_best_threshold() -> None:
    scores = np.zeros(SMALL.rows)
    scores[12] = 0.95  # in the window, a bit late: 0.917434
    scores[5] = 0.9  # a false positive before any window: -0.11
    scores[10] = 0.8  # the window's first row: 1.0 (with the false positive: 0.89)
    threshold, best = optimise_threshold([SMALL], [scores], STANDARD)
    assert threshold == 0.95
    assert best == pytest.approx(100 * (math.tanh(1.5) / math.tanh(2.5) + 1) / 2)
    # Without the false positive, the earlier detection at 0.8 wins.
    scores[5] = 0.0
    threshold, best = optimise_threshold([SMALL], [scores], STANDARD)
    assert (threshold, best) == (0.8, pytest.approx(100.0))


def test_threshold_optimisation_agrees_with_direct_scoring() -> None:
    rng = np.random.default_rng(7)
    files = [SMALL, LabelledFile("two.csv", rows=60, windows=((20, 25), (40, 49)))]
    scores = [rng.random(file.rows).round(2) for file in files]
    threshold, best = optimise_threshold(files, scores, STANDARD)
    assert best == pytest.approx(score_corpus(files, scores, threshold, STANDARD))
    for candidate in np.unique(np.concatenate(scores)):
        assert score_corpus(files, scores, float(candidate), STANDARD) <= best + 1e-9


def test_steps_computed_once_give_the_same_curve_for_any_subset_of_files() -> None:
    rng = np.random.default_rng(8)
    files = [
        SMALL,
        LabelledFile("two.csv", rows=60, windows=((20, 25), (40, 49))),
        LabelledFile("none", 30, ()),
    ]
    scores = [rng.random(file.rows).round(2) for file in files]
    steps = [step_changes(file, s, STANDARD) for file, s in zip(files, scores, strict=True)]
    for subset in ([0, 1, 2], [0, 2], [1]):
        chosen_files = [files[i] for i in subset]
        chosen_scores = [scores[i] for i in subset]
        reused = curve_from_steps(chosen_files, chosen_scores, [steps[i] for i in subset], STANDARD)
        direct = score_curve(chosen_files, chosen_scores, STANDARD)
        np.testing.assert_array_equal(reused[0], direct[0])
        np.testing.assert_allclose(reused[1], direct[1])


@pytest.fixture(scope="module")
def nab_files() -> list[LabelledFile]:
    if not (NAB / "labels" / "combined_windows.json").is_file():
        pytest.skip(f"the NAB data is not at {NAB}")
    bounds = load_window_bounds(NAB / "labels" / "combined_windows.json")
    files = []
    for name in sorted(bounds):
        with (NAB / "data" / name).open(newline="") as handle:
            timestamps = [row["timestamp"] for row in csv.DictReader(handle)]
        files.append(LabelledFile(name, len(timestamps), window_rows(timestamps, bounds[name])))
    return files


def test_the_real_labels_have_69_windows_after_probation(nab_files: list[LabelledFile]) -> None:
    assert len(nab_files) == 42
    assert sum(len(file.windows) for file in nab_files) == 69
    assert all(start >= file.probation for file in nab_files for start, _ in file.windows)


@pytest.mark.parametrize("profile_name", PROFILE_NAMES)
def test_no_detections_gives_zero_on_the_real_labels(
    nab_files: list[LabelledFile], profile_name: str
) -> None:
    profile = load_profiles(NAB / "config" / "profiles.json")[profile_name]
    scores = [np.zeros(file.rows) for file in nab_files]
    assert score_corpus(nab_files, scores, 0.5, profile) == pytest.approx(0.0)


@pytest.mark.parametrize("profile_name", PROFILE_NAMES)
def test_first_row_of_every_window_gives_100_on_the_real_labels(
    nab_files: list[LabelledFile], profile_name: str
) -> None:
    profile = load_profiles(NAB / "config" / "profiles.json")[profile_name]
    scores = []
    for file in nab_files:
        file_scores = np.zeros(file.rows)
        for start, _ in file.windows:
            file_scores[start] = 1.0
        scores.append(file_scores)
    assert score_corpus(nab_files, scores, 0.5, profile) == pytest.approx(100.0)
    assert optimise_threshold(nab_files, scores, profile) == (1.0, pytest.approx(100.0))
