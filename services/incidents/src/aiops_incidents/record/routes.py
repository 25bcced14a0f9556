"""`GET /aiops/stats/record`: the platform's record over time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

from aiops_incidents.auth import Reader
from aiops_incidents.clock import Clock, utc_now
from aiops_incidents.record.repository import RecordRepository
from aiops_incidents.record.schemas import Record, RecordBucket
from aiops_incidents.routes import ERRORS


@dataclass(frozen=True)
class BucketRule:
    length: timedelta
    default_periods: int
    most_periods: int


BUCKETS = {
    RecordBucket.DAY: BucketRule(timedelta(days=1), default_periods=14, most_periods=90),
    RecordBucket.HOUR: BucketRule(timedelta(hours=1), default_periods=24, most_periods=168),
}
MOST_PERIODS = max(rule.most_periods for rule in BUCKETS.values())


def period_count(bucket: RecordBucket, asked: int | None) -> int:
    """The periods to return. The schema can bound `periods` only once for both buckets, so
    more days than a day bucket allows are read as its most rather than refused."""
    rule = BUCKETS[bucket]
    return rule.default_periods if asked is None else min(asked, rule.most_periods)


def record_router(clock: Clock = utc_now) -> APIRouter:
    router = APIRouter(prefix="/aiops", tags=["incidents"], responses=ERRORS)

    @router.get(
        "/stats/record",
        summary="Incidents opened and resolved, and the mean times to detect and resolve, over time",
        description="One entry per day (from UTC midnight) or hour, oldest first, every period "
        "present, the last being the current one.",
    )
    async def record(
        request: Request,
        _: Reader,
        bucket: Annotated[RecordBucket, Query(description="Length of a period.")] = RecordBucket.DAY,
        periods: Annotated[
            int | None,
            Query(
                ge=1,
                le=MOST_PERIODS,
                description="Periods to return, the current one included: by default 14 days or "
                "24 hours; at most 90 days (more are read as 90) or 168 hours.",
            ),
        ] = None,
    ) -> Record:
        pool = request.app.state.pool
        rows = await RecordRepository(pool).record(
            BUCKETS[bucket].length, period_count(bucket, periods), clock()
        )
        return Record(bucket=bucket, periods=rows)

    return router
