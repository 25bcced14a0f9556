"""The pydantic models of the record API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class RecordBucket(StrEnum):
    DAY = "day"
    HOUR = "hour"


class RecordPeriod(BaseModel):
    start: datetime = Field(description="Start of the period: UTC midnight, or the start of the hour.")
    opened: int = Field(ge=0, description="Incidents opened in the period.")
    resolved: int = Field(ge=0, description="Incidents resolved in the period (by themselves or by hand).")
    mttd_s: float | None = Field(
        description="Mean time to detect of the incidents opened in the period, in seconds: from "
        "the start of the trouble (`started_at`) to `opened_at`; null when none opened."
    )
    mttr_s: float | None = Field(
        description="Mean time to resolve of the incidents resolved in the period, in seconds: from "
        "`started_at` to `resolved_at`; null when none resolved."
    )


class Record(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "bucket": "day",
                    "periods": [
                        {
                            "start": "2026-11-27T00:00:00Z",
                            "opened": 3,
                            "resolved": 2,
                            "mttd_s": 41.5,
                            "mttr_s": 612.0,
                        },
                        {
                            "start": "2026-11-28T00:00:00Z",
                            "opened": 0,
                            "resolved": 1,
                            "mttd_s": None,
                            "mttr_s": 380.0,
                        },
                    ],
                }
            ]
        }
    }

    bucket: RecordBucket
    periods: list[RecordPeriod] = Field(
        description="Oldest first, every period present (zeros when nothing happened); the last "
        "is the current one, still in progress."
    )
