"""Detection quality on the NAB corpus, scored with NAB's rules (`bench/nab_scoring.py`).

Runs the streaming scorer over every file exactly as `aiops detect-csv` does (same library
function, output to a temporary directory), then prints per profile the corpus score with the
threshold optimised over every distinct score value, and at the live threshold `ALARM_SCORE`,
next to the published detectors' scores on the same files.

    make bench-detect
    .venv/bin/python bench/detect_nab.py --data ../shared/data/nab
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiops_detector.detect_csv import detect_directory
from aiops_detector.detection.robust import ALARM_SCORE
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="the NAB folder (data/, labels/, config/)"
    )
    args = parser.parse_args()
    data: Path = args.data

    with tempfile.TemporaryDirectory(prefix="nab-scores-") as out:
        started = time.perf_counter()
        written = detect_directory(data / "data", Path(out))
        detect_seconds = time.perf_counter() - started
        files, scores = load_results(Path(out), written, data / "labels" / "combined_windows.json")

    started = time.perf_counter()
    profiles = load_profiles(data / "config" / "profiles.json")
    rows = sum(file.rows for file in files)
    windows = sum(len(file.windows) for file in files)
    print(f"NAB: {len(files)} files, {rows} rows, {windows} windows; detection took {detect_seconds:.1f} s")
    print()
    print(
        f"{'profile':<20} {'optimised':>9} {'threshold':>10} {'detections':>10}   "
        f"{'at ALARM_SCORE':>14} {'detections':>10}"
    )
    for name in PROFILE_NAMES:
        profile = profiles[name]
        threshold, best = optimise_threshold(files, scores, profile)
        fixed = score_corpus(files, scores, ALARM_SCORE, profile)
        print(
            f"{name:<20} {best:>9.1f} {threshold:>10.4f} {count_detections(files, scores, threshold):>10}   "
            f"{fixed:>14.1f} {count_detections(files, scores, ALARM_SCORE):>10}"
        )
    print(f"(ALARM_SCORE = {ALARM_SCORE}; scoring took {time.perf_counter() - started:.1f} s)")
    print()
    print("published, standard profile, threshold optimised:")
    for detector, standard in PUBLISHED_STANDARD:
        print(f"  {detector:<20} {standard:>5.1f}")


if __name__ == "__main__":
    main()
