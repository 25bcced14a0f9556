"""Types for values that come from API clients and end up in the store."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, StringConstraints

# PostgreSQL text cannot hold the NUL character: refused at the edge with a 422, not a 500.
StoredText = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]

_NUMBER = re.compile(r"^\s*[-+]?\d+(\.\d*)?([eE][-+]?\d+)?\s*$")


def _iso_8601_only(value: object) -> object:
    # Pydantic would read a bare number as a Unix time; the schema promises ISO 8601.
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("expected an ISO 8601 date and time with its offset, e.g. 2026-11-28T12:00:00Z")
    return value


def _in_utc(value: datetime) -> datetime:
    """The time in UTC (a time without an offset is taken as UTC). At the very ends of the
    calendar, where the offset would carry it past year 1 or 9999, the nearest time UTC holds."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)


# An ISO 8601 date and time with its offset, in UTC.
IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_8601_only), AfterValidator(_in_utc)]
# The same, where a time without an offset is UTC.
IsoDatetimeUtcByDefault = Annotated[datetime, BeforeValidator(_iso_8601_only), AfterValidator(_in_utc)]
