"""Times from API clients: ISO 8601 only, always in UTC, and the ends of the calendar do not
overflow when an offset would carry them past year 1 or 9999."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from aiops_core.validation import IsoDatetime, IsoDatetimeUtcByDefault

AWARE = TypeAdapter(IsoDatetime)
UTC_BY_DEFAULT = TypeAdapter(IsoDatetimeUtcByDefault)


def test_a_time_with_an_offset_comes_back_in_utc() -> None:
    assert AWARE.validate_python("2026-11-28T14:00:00+02:00") == datetime(2026, 11, 28, 12, tzinfo=UTC)


def test_past_the_ends_of_the_calendar_is_the_nearest_time_utc_holds() -> None:
    assert AWARE.validate_python("0001-01-01T01:01:00+14:20") == datetime.min.replace(tzinfo=UTC)
    assert AWARE.validate_python("9999-12-31T23:00:00-10:00") == datetime.max.replace(tzinfo=UTC)


@pytest.mark.parametrize("value", [0, 1764331200, "1764331200", "2026-11-28T12:00:00"])
def test_numbers_and_times_without_offset_are_refused_where_the_offset_is_required(value: object) -> None:
    with pytest.raises(ValidationError):
        AWARE.validate_python(value)


def test_without_an_offset_a_time_is_utc_where_that_is_the_default() -> None:
    assert UTC_BY_DEFAULT.validate_python("2026-11-28T12:00:00") == datetime(2026, 11, 28, 12, tzinfo=UTC)
    with pytest.raises(ValidationError):
        UTC_BY_DEFAULT.validate_python(0)
