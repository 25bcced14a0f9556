"""Keyset pagination: a cursor is a position, every cursor the schema admits decodes to one, and a
page says there is more only when there is."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiops_core.pagination import CURSOR_PATTERN, Cursor, Page


class Numbers(Page[int]):
    pass


def test_a_cursor_names_the_same_position_after_a_round_trip() -> None:
    position = Cursor(datetime(2026, 11, 28, 12, 0, 5, 123456, tzinfo=UTC), uuid4())
    encoded = position.encode()
    assert re.fullmatch(CURSOR_PATTERN, encoded)
    assert Cursor.decode(encoded) == position


def test_no_cursor_is_the_first_page() -> None:
    assert Cursor.decode(None) is None


@given(st.from_regex(CURSOR_PATTERN, fullmatch=True))
def test_every_cursor_the_schema_admits_is_a_position(text: str) -> None:
    position = Cursor.decode(text)
    assert position is not None
    assert position.at.tzinfo is not None
    assert Cursor.decode(position.encode()) == position


def test_a_page_says_there_is_more_only_when_an_extra_item_came() -> None:
    at = datetime(2026, 11, 28, tzinfo=UTC)

    def position(n: int) -> Cursor:
        return Cursor(at, UUID(int=n))

    full = Numbers.of([1, 2, 3], 2, position)
    assert full.items == [1, 2]
    assert full.next_cursor == Cursor(at, UUID(int=2)).encode()
    last = Numbers.of([1, 2], 2, position)
    assert (last.items, last.next_cursor) == ([1, 2], None)
    assert Numbers.of([], 2, position) == Numbers(items=[], next_cursor=None)


@pytest.mark.parametrize("text", ["", "abc", "12-xyz", "-" + "0" * 32, "1" * 17 + "-" + "0" * 32])
def test_what_the_pattern_refuses(text: str) -> None:
    assert re.fullmatch(CURSOR_PATTERN, text) is None
