"""The pydantic models of the series API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from aiops_core.models import Anomaly
from aiops_core.validation import StoredText

# The kinds judged per series, which an operator may accept as normal.
SeriesKind = Literal["error_ratio", "latency", "traffic_drop", "traffic_surge"]


class Learning(BaseModel):
    """What the detector knows of a series' learning, as of its last baseline."""

    learning: bool = Field(
        description="Some measure has less healthy history than it needs: only the floors judge it."
    )
    remaining_s: float = Field(
        ge=0,
        description="Seconds until every measure has learned, if the series stays healthy (a measure "
        "does not learn while an anomaly spoils it); 0 once learned.",
    )
    history_s: dict[str, float] = Field(
        description="Seconds of healthy history of each measure (rate, errors, latency).",
        examples=[{"rate": 3600.0, "errors": 3600.0, "latency": 45.0}],
    )
    min_history_s: float = Field(description="Seconds each measure needs (AIOPS_MIN_HISTORY_S).")
    measured_at: datetime = Field(description="When the detector last learned the series' baseline.")


class BaselineBand(BaseModel):
    """Each metric's usual range, [low, high]; null where fewer than 10 healthy minutes teach it."""

    requests_per_s: tuple[float, float] | None
    error_ratio: tuple[float, float] | None
    p95_ms: tuple[float, float] | None


class SeriesPoint(BaseModel):
    minute: datetime = Field(description="Start of the minute.")
    requests_per_s: float = Field(
        ge=0, description="Requests over the seconds of the minute covered so far (all 60 but in the last)."
    )
    error_ratio: float = Field(ge=0, le=1, description="Failed requests over requests.")
    p95_ms: float = Field(description="95th percentile of the requests' durations, in milliseconds.")
    baseline: BaselineBand | None = Field(
        description="The usual range at this minute: median ± 3 * 1.4826 * MAD over the healthy "
        "minutes of the hour before it (a minute with an anomaly does not teach the metrics it "
        "spoils, as for the detector's baselines), at least 0 (at most 1 for the error ratio); "
        "null when fewer than 10 of those minutes had requests."
    )


class OperationSeries(BaseModel):
    operation: str
    points: list[SeriesPoint] = Field(
        description="One a minute with requests, oldest first; a minute without any has none."
    )
    anomalies: list[Anomaly] = Field(
        description="Anomalies of this operation in force at some time of the period, by start."
    )
    learning: Learning | None = Field(
        default=None, description="Its learning state; null when the detector has not learned it yet."
    )


class ServiceSeries(BaseModel):
    service: str
    since: datetime = Field(description="Start of the first minute of the period.")
    until: datetime = Field(description="When the answer was made: the end of the period.")
    series: list[OperationSeries] = Field(
        description="Each operation with requests or anomalies in the period, by name."
    )


class AcceptIn(BaseModel):
    operation: StoredText = Field(min_length=1, max_length=512, examples=["POST /payment"])
    kind: SeriesKind = Field(
        description="What changed for good: error_ratio, latency, traffic_drop or traffic_surge."
    )
    comment: StoredText | None = Field(
        default=None, max_length=4000, examples=["payment v2 validates cards twice: 20 ms slower by design"]
    )


class Acceptance(BaseModel):
    service: str
    operation: str
    kind: SeriesKind
    accepted_at: datetime = Field(description="The series' baseline of that kind learns from here on.")
    accepted_by: str = Field(
        description="The name of the API token that accepted it ('anonymous' without tokens)."
    )
    comment: str | None
    incidents: list[UUID] = Field(
        description="Unresolved incidents with an open anomaly of this series and kind: the acceptance "
        "is on their timelines, and the anomaly clears at the detector's next evaluation."
    )
