from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from aiops_detector.detect_csv import detect_csv


def write_series(path: Path, rows: int, header: str = "timestamp,value") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [header] + [f"2015-09-01 {i // 60:02d}:{i % 60:02d}:00,{10 + (i % 7) * 0.5}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")


def test_every_file_is_scored_into_the_same_layout(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    write_series(data / "first" / "a.csv", 300)
    write_series(data / "second" / "b.csv", 40)

    result = CliRunner().invoke(detect_csv, [str(data), str(out)])

    assert result.exit_code == 0, result.output
    assert "scored 2 files" in result.output
    for relative, rows in (("first/a.csv", 300), ("second/b.csv", 40)):
        with (out / relative).open(newline="") as handle:
            reader = csv.reader(handle)
            assert next(reader) == ["timestamp", "value", "anomaly_score"]
            scored = list(reader)
        assert len(scored) == rows
        assert scored[0][:2] == ["2015-09-01 00:00:00", "10.0"]
        assert all(0.0 <= float(score) <= 1.0 for _, _, score in scored)


def test_a_missing_directory_is_one_clear_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(detect_csv, [str(tmp_path / "nope"), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {tmp_path / 'nope'}: no such directory"


def test_a_bad_header_names_the_file(tmp_path: Path) -> None:
    write_series(tmp_path / "data" / "x" / "bad.csv", 5, header="time,val")
    result = CliRunner().invoke(detect_csv, [str(tmp_path / "data"), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "bad.csv: line 1: expected the header 'timestamp,value'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_an_unparsable_value_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "data" / "x" / "s.csv"
    write_series(path, 5)
    lines = path.read_text().splitlines()
    lines[3] = "2015-09-01 00:02:00,lots"
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(detect_csv, [str(tmp_path / "data"), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "s.csv: line 4: value 'lots' is not a number" in result.output
    assert "Traceback" not in result.output


def test_an_unparsable_timestamp_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "data" / "x" / "s.csv"
    write_series(path, 5)
    lines = path.read_text().splitlines()
    lines[2] = "01/09/2015 00:01,3.0"
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(detect_csv, [str(tmp_path / "data"), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "s.csv: line 3: timestamp '01/09/2015 00:01' is not YYYY-MM-DD HH:MM:SS" in result.output


def test_a_row_with_a_missing_field_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "data" / "x" / "s.csv"
    write_series(path, 5)
    with path.open("a") as handle:
        handle.write("2015-09-01 00:05:00\n")
    result = CliRunner().invoke(detect_csv, [str(tmp_path / "data"), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "s.csv: line 7: expected 2 fields, got 1" in result.output
