"""The pydantic models of the series API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from aiops_core.models import Anomaly


class BaselineBand(BaseModel):
    """Each metric's usual range, [low, high]."""

    requests_per_s: tuple[float, float]
    error_ratio: tuple[float, float]
    p95_ms: tuple[float, float]


class SeriesPoint(BaseModel):
    minute: datetime = Field(description="Start of the minute.")
    requests_per_s: float = Field(
        ge=0, description="Requests over the seconds of the minute covered so far (all 60 but in the last)."
    )
    error_ratio: float = Field(ge=0, le=1, description="Failed requests over requests.")
    p95_ms: float = Field(description="95th percentile of the requests' durations, in milliseconds.")
    baseline: BaselineBand | None = Field(
        description="The usual range at this minute: median ± 3 * 1.4826 * MAD over the minutes "
        "of the hour before it, at least 0 (at most 1 for the error ratio); null when fewer than "
        "10 of those minutes had requests."
    )


class OperationSeries(BaseModel):
    operation: str
    points: list[SeriesPoint] = Field(
        description="One a minute with requests, oldest first; a minute without any has none."
    )
    anomalies: list[Anomaly] = Field(
        description="Anomalies of this operation in force at some time of the period, by start."
    )


class ServiceSeries(BaseModel):
    service: str
    since: datetime = Field(description="Start of the first minute of the period.")
    until: datetime = Field(description="When the answer was made: the end of the period.")
    series: list[OperationSeries] = Field(
        description="Each operation with requests or anomalies in the period, by name."
    )
