"""Detection quality on the NAB corpus, scored with NAB's rules (`bench/nab_scoring.py`).

Runs the streaming scorer over every file exactly as `aiops detect-csv` does (same library
function, output to a temporary directory), once per parameter set of a small grid. Prints, per
profile, the corpus score of the default parameters with the threshold optimised over every
distinct score value and at the live threshold `ALARM_SCORE`, next to the published detectors'
scores on the same files; then the leave-one-category-out cross-validation of choosing the
parameter set and threshold (`bench/nab_cv.py`), beside the in-sample figure.

    make bench-detect
    .venv/bin/python bench/detect_nab.py --data ../shared/data/nab
    .venv/bin/python bench/detect_nab.py --default-only   # in-sample, the default parameters only
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiops_detector.detect_csv import detect_directory
from aiops_detector.detection.robust import ALARM_SCORE
from aiops_detector.detection.streaming import StreamingParameters
from bench.nab_cv import Candidate, cross_validate, report
from bench.nab_scoring import (
    PROFILE_NAMES,
    LabelledFile,
    count_detections,
    load_profiles,
    load_window_bounds,
    optimise_threshold,
    score_corpus,
    window_rows,
)

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nab"

# Standard profile, threshold optimised, on exactly these files (from the data's README).
PUBLISHED_STANDARD = [
    ("ARTime", 71.9),
    ("Numenta HTM", 69.9),
    ("CAD OSE", 67.6),
    ("Random Cut Forest", 53.4),
    ("random", 19.5),
]

DEFAULTS = StreamingParameters()

# The grid the cross-validation chooses from (2 x 2 x 2): how high a z-score must be at all, by how
# much it must beat the largest of its kind in the recent past, and how far back that past reaches.
# A bursty, heavy-tailed series beats a short past's record often; a larger margin or a longer
# past asks more of it. The defaults are one of its points.
GRID = [
    (
        f"z={alarm_z:g},margin={margin:g},past={points}",
        replace(DEFAULTS, alarm_z=alarm_z, calibration_margin=margin, calibration_points=points),
    )
    for alarm_z in (5.5, 7.0)
    for margin in (1.2, 1.5)
    for points in (400, 1000)
]


def read_scored(path: Path) -> tuple[list[str], np.ndarray]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["timestamp"] for row in rows], np.array([float(row["anomaly_score"]) for row in rows])


def load_results(
    out_dir: Path, written: list[Path], labels: Path
) -> tuple[list[LabelledFile], list[np.ndarray]]:
    bounds = load_window_bounds(labels)
    files, scores = [], []
    for relative in written:
        name = relative.as_posix()
        timestamps, file_scores = read_scored(out_dir / relative)
        files.append(LabelledFile(name, len(timestamps), window_rows(timestamps, bounds.get(name, []))))
        scores.append(file_scores)
    return files, scores


def run_scorer(data: Path, parameters: StreamingParameters) -> tuple[list[LabelledFile], list[np.ndarray]]:
    with tempfile.TemporaryDirectory(prefix="nab-scores-") as out:
        written = detect_directory(data / "data", Path(out), parameters)
        return load_results(Path(out), written, data / "labels" / "combined_windows.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="the NAB folder (data/, labels/, config/)"
    )
    parser.add_argument(
        "--default-only", action="store_true", help="score the default parameters only (no cross-validation)"
    )
    args = parser.parse_args()
    data: Path = args.data
    grid = [(label, p) for label, p in GRID if p == DEFAULTS] if args.default_only else GRID
    assert any(p == DEFAULTS for _, p in grid), "the defaults must be a point of the grid"

    started = time.perf_counter()
    candidates, default_scores, files = [], [], []
    for label, parameters in grid:
        files, scores = run_scorer(data, parameters)
        candidates.append(Candidate(label, scores))
        if parameters == DEFAULTS:
            default_scores = scores
    detect_seconds = time.perf_counter() - started

    started = time.perf_counter()
    profiles = load_profiles(data / "config" / "profiles.json")
    rows = sum(file.rows for file in files)
    windows = sum(len(file.windows) for file in files)
    print(
        f"NAB: {len(files)} files, {rows} rows, {windows} windows; detection with {len(grid)} "
        f"parameter set(s) took {detect_seconds:.1f} s"
    )
    print()
    print("in-sample, the default parameters:")
    print(
        f"{'profile':<20} {'optimised':>9} {'threshold':>10} {'detections':>10}   "
        f"{'at ALARM_SCORE':>14} {'detections':>10}"
    )
    for name in PROFILE_NAMES:
        profile = profiles[name]
        threshold, best = optimise_threshold(files, default_scores, profile)
        fixed = score_corpus(files, default_scores, ALARM_SCORE, profile)
        print(
            f"{name:<20} {best:>9.1f} {threshold:>10.4f} "
            f"{count_detections(files, default_scores, threshold):>10}   "
            f"{fixed:>14.1f} {count_detections(files, default_scores, ALARM_SCORE):>10}"
        )
    print(f"(ALARM_SCORE = {ALARM_SCORE})")
    if not args.default_only:
        print()
        print(f"leave-one-category-out cross-validation over {len(grid)} parameter sets (bench/nab_cv.py):")
        for name in PROFILE_NAMES:
            print("\n".join(report(cross_validate(files, candidates, profiles[name]))))
    print(f"(scoring took {time.perf_counter() - started:.1f} s)")
    print()
    print("published, standard profile, threshold optimised:")
    for detector, standard in PUBLISHED_STANDARD:
        print(f"  {detector:<20} {standard:>5.1f}")


if __name__ == "__main__":
    main()
