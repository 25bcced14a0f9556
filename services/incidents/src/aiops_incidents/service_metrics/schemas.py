"""The pydantic models of the service metrics API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, JsonValue

Measure = Literal["value", "per_second"]


class MetricPoint(BaseModel):
    minute: datetime = Field(description="Start of the minute.")
    value: float | None = Field(
        description="As the series' `measure` says: the mean of the values read in the minute, or what "
        "was counted per second (observations per second for a histogram or summary)."
    )
    mean: float | None = Field(
        default=None, description="A histogram's or summary's mean observation in the minute (sum / count)."
    )


class LastValue(BaseModel):
    time: datetime = Field(description="When it was measured.")
    value: float | None = Field(description="As the series' `measure` says, over the last point's interval.")
    mean: float | None = Field(default=None, description="A histogram's or summary's mean observation.")


class MetricSeries(BaseModel):
    series_id: str = Field(
        description="The series' 64-bit id, as a string (JavaScript numbers cannot hold it)."
    )
    name: str = Field(examples=["db.client.connection.count"])
    kind: Literal["gauge", "sum", "histogram", "exponential_histogram", "summary"]
    measure: Measure = Field(
        description="What `value` is: `value` for a gauge or a level (a non-monotonic cumulative sum), "
        "`per_second` for what a counter, histogram or summary counted."
    )
    unit: str = Field(description="The unit the sender gave, UCUM style ('By', 'ms', '{connection}').")
    description: str
    instance: str | None = Field(description="The instance that sends it: service.instance.id, pod or host.")
    attributes: dict[str, JsonValue] = Field(description="The data point attributes that make the series.")
    first_seen: datetime
    last_seen: datetime
    last: LastValue | None = Field(description="Its latest point; null when none is kept any more.")
    points: list[MetricPoint] = Field(description="Minute by minute over the period, oldest first.")


class ServiceMetrics(BaseModel):
    service: str
    since: datetime
    until: datetime
    series: list[MetricSeries] = Field(description="By name, then instance and attributes.")
    truncated: bool = Field(description="More series exist than `limit` let through.")
