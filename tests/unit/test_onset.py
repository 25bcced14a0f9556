"""An anomaly starts at its first second out of line: the change point of the recent seconds."""

from __future__ import annotations

from aiops_detector.detection.onset import onset

GAP_S = 10


def seconds(pattern: str, first: int = 1000) -> list[tuple[int, bool | None]]:
    """One character a second: x out of line, . in line, space nothing to judge."""
    return [(first + i, {"x": True, ".": False, " ": None}[c]) for i, c in enumerate(pattern)]


def test_the_start_is_the_first_second_of_the_fault_not_of_the_window() -> None:
    assert onset(seconds("..........xxxxx"), GAP_S) == 1010


def test_a_stray_second_before_the_fault_does_not_pull_the_start_back() -> None:
    assert onset(seconds("..x.......xxxxx"), GAP_S) == 1010


def test_a_lucky_second_inside_the_fault_does_not_push_it_forward() -> None:
    assert onset(seconds(".....xx.xxxxxxx"), GAP_S) == 1005


def test_seconds_without_requests_are_neither() -> None:
    assert onset(seconds(".....x  x x xx"), GAP_S) == 1005


def test_a_repeat_after_recovery_starts_when_it_was_repeated() -> None:
    # Forty seconds of fault, sixteen back in line, then the same fault again.
    assert onset(seconds("x" * 40 + "." * 16 + "xxx"), GAP_S) == 1056


def test_nothing_out_of_line_has_no_start() -> None:
    assert onset(seconds("..........  ."), GAP_S) is None
    assert onset([], GAP_S) is None
