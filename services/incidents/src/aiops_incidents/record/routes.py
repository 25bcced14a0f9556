"""`GET /aiops/stats/record`: the platform's record over time."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from aiops_incidents.clock import Clock, utc_now
from aiops_incidents.dependencies import API_ERRORS, Reader, RecordStore
from aiops_incidents.record.schemas import Record, RecordBucket

# The length of each kind of period, and how many of them a page shows unless asked.
BUCKETS = {
    RecordBucket.DAY: (timedelta(days=1), 14),
    RecordBucket.HOUR: (timedelta(hours=1), 24),
}
MOST_PERIODS = 168  # a week of hours, or about half a year of days


def record_router(clock: Clock = utc_now) -> APIRouter:
    router = APIRouter(prefix="/aiops", tags=["incidents"], responses=API_ERRORS)

    @router.get(
        "/stats/record",
        summary="Incidents opened and resolved, and the mean times to detect and resolve, over time",
        description="One entry per day (from UTC midnight) or hour, oldest first, every period "
        "present, the last being the current one.",
    )
    async def record(
        store: RecordStore,
        _: Reader,
        bucket: Annotated[RecordBucket, Query(description="Length of a period.")] = RecordBucket.DAY,
        periods: Annotated[
            int | None,
            Query(
                ge=1,
                le=MOST_PERIODS,
                description="Periods to return, the current one included: by default 14 days or "
                "24 hours; at most 168.",
            ),
        ] = None,
    ) -> Record:
        length, default_periods = BUCKETS[bucket]
        rows = await store.record(length, periods or default_periods, clock())
        return Record(bucket=bucket, periods=rows)

    return router
