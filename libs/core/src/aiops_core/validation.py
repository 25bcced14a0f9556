"""Types for values that come from API clients and end up in the store."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator, StringConstraints

# PostgreSQL text cannot hold the NUL character: refused at the edge with a 422, not a 500.
StoredText = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]

_NUMBER = re.compile(r"^\s*[-+]?\d+(\.\d*)?([eE][-+]?\d+)?\s*$")


def _iso_8601_only(value: object) -> object:
    # Pydantic would read a bare number as a Unix time; the schema promises ISO 8601.
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("expected an ISO 8601 date and time with its offset, e.g. 2026-11-28T12:00:00Z")
    return value


IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_8601_only)]
