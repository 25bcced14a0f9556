"""`aiops detect-csv DATA_DIR OUT_DIR`: score CSV series offline with the streaming scorer.

Every `*.csv` under DATA_DIR (NAB's format: a `timestamp,value` header, timestamps
`YYYY-MM-DD HH:MM:SS`) is fed point by point to a fresh `StreamingScorer`; the scores go to
`OUT_DIR/<same relative path>` as `timestamp,value,anomaly_score`, one row per input row.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import click

from aiops_detector.detection.streaming import StreamingParameters, StreamingScorer

HEADER = ["timestamp", "value"]
OUTPUT_HEADER = [*HEADER, "anomaly_score"]
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


class BadSeriesFile(ValueError):
    """A file that is not a `timestamp,value` series; the message names the file and line."""


@dataclass(frozen=True)
class SeriesRow:
    timestamp_text: str
    timestamp: datetime
    value_text: str
    value: float


def read_series(path: Path) -> list[SeriesRow]:
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [column.strip() for column in header] != HEADER:
            raise BadSeriesFile(f"{path}: line 1: expected the header 'timestamp,value', got {header!r}")
        return [_parse_row(path, line, fields) for line, fields in enumerate(reader, start=2)]


def _parse_row(path: Path, line: int, fields: list[str]) -> SeriesRow:
    if len(fields) != 2:
        raise BadSeriesFile(f"{path}: line {line}: expected 2 fields, got {len(fields)}")
    timestamp_text, value_text = (field.strip() for field in fields)
    try:
        timestamp = datetime.strptime(timestamp_text, TIMESTAMP_FORMAT)
    except ValueError:
        raise BadSeriesFile(
            f"{path}: line {line}: timestamp {timestamp_text!r} is not YYYY-MM-DD HH:MM:SS"
        ) from None
    try:
        value = float(value_text)
    except ValueError:
        raise BadSeriesFile(f"{path}: line {line}: value {value_text!r} is not a number") from None
    if not math.isfinite(value):
        raise BadSeriesFile(f"{path}: line {line}: value {value_text!r} is not finite")
    return SeriesRow(timestamp_text, timestamp, value_text, value)


def score_series(rows: list[SeriesRow], parameters: StreamingParameters | None = None) -> list[float]:
    scorer = StreamingScorer(parameters)
    return [scorer.update(row.timestamp, row.value) for row in rows]


def write_scores(path: Path, rows: list[SeriesRow], scores: list[float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(OUTPUT_HEADER)
        for row, score in zip(rows, scores, strict=True):
            writer.writerow([row.timestamp_text, row.value_text, repr(score)])


def detect_directory(
    data_dir: Path, out_dir: Path, parameters: StreamingParameters | None = None
) -> list[Path]:
    """Score every CSV under `data_dir` into `out_dir`; the relative paths of the files written."""
    if not data_dir.is_dir():
        raise BadSeriesFile(f"{data_dir}: no such directory")
    sources = sorted(path for path in data_dir.rglob("*.csv") if path.is_file())
    if not sources:
        raise BadSeriesFile(f"{data_dir}: no .csv files under it")
    # Read everything first, so that a bad file fails the run before any output is written.
    series = [(path.relative_to(data_dir), read_series(path)) for path in sources]
    for relative, rows in series:
        write_scores(out_dir / relative, rows, score_series(rows, parameters))
    return [relative for relative, _ in series]


@click.command()
@click.argument("data_dir", type=click.Path(path_type=Path))
@click.argument("out_dir", type=click.Path(path_type=Path))
def detect_csv(data_dir: Path, out_dir: Path) -> None:
    """Score every DATA_DIR/**/*.csv (timestamp,value) into OUT_DIR with an anomaly_score column."""
    try:
        written = detect_directory(data_dir, out_dir)
    except BadSeriesFile as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"scored {len(written)} files into {out_dir}")
