"""Keyset pagination, one way for every list route: newest first by (time, id), a page of at most
`limit` items and a cursor naming where it ended.

A cursor is a position, not a token: `<microseconds since the epoch>-<id as 32 hex digits>`.
Every string the query parameter's pattern admits is a position some page could have ended at,
so the schema says exactly which cursors are valid and none of them is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Generic, Self, TypeVar
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel, Field

T = TypeVar("T")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Up to 16 digits: any such count of microseconds is a date before the year 2287.
CURSOR_PATTERN = r"^[0-9]{1,16}-[0-9a-f]{32}$"

Limit = Annotated[int, Query(ge=1, le=200, description="Items per page.")]
CursorQuery = Annotated[
    str | None,
    Query(
        pattern=CURSOR_PATTERN,
        description="`next_cursor` of the previous page: the page starts after that position.",
        examples=["1764331205123456-5d0c8f7e2a4b4c1d9e3f7a6b5c4d3e2f"],
    ),
]


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: its last item's sort key."""

    at: datetime
    id: UUID

    def encode(self) -> str:
        micros = (self.at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}-{self.id.hex}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """The position a cursor names (one that matched `CURSOR_PATTERN`); None for no cursor."""
        if text is None:
            return None
        micros, item_id = text.split("-")
        return cls(at=_EPOCH + timedelta(microseconds=int(micros)), id=UUID(hex=item_id))


class Page(BaseModel, Generic[T]):
    """A page of a list; a route's page is a named subclass (`class IncidentPage(Page[Incident])`)."""

    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")

    @classmethod
    def of(cls, items: Sequence[T], limit: int, position: Callable[[T], Cursor]) -> Self:
        """The page from `limit + 1` items fetched after the cursor: an extra one says there is
        more, and the cursor is the last shown item's `position`."""
        shown = list(items[:limit])
        more = len(items) > limit
        return cls(items=shown, next_cursor=position(shown[-1]).encode() if more else None)


class KeysetQuery:
    """The WHERE clause and numbered parameters of one page: filters added one by one, then the
    keyset condition and order, newest first by (`at_column`, `id_column`)."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.args: list[object] = []

    def arg(self, value: object) -> str:
        """A parameter placeholder for `value`."""
        self.args.append(value)
        return f"${len(self.args)}"

    def where(self, condition: str) -> None:
        self.conditions.append(condition)

    def page(self, at_column: str, id_column: str, after: Cursor | None, limit: int) -> str:
        """`WHERE ... ORDER BY ... LIMIT ...` for the page after `after`."""
        if after is not None:
            self.where(f"({at_column}, {id_column}) < ({self.arg(after.at)}, {self.arg(after.id)})")
        where = " AND ".join(self.conditions) or "true"
        return f"WHERE {where} ORDER BY {at_column} DESC, {id_column} DESC LIMIT {self.arg(limit)}"
