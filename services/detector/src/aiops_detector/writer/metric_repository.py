"""The metric points' SQL: batches written exactly once, each point under its series.

Every series has a row in `metric_series`, created with its first point, unless its metric (its
service and name) already has `series_limit` series: then its points are dropped and counted
(`over_cardinality_cap`), so that one label with unbounded values cannot flood the store. The
series' rows of a batch are locked for its transaction, in the order of their ids, so that
writers sharing a series take turns; its cumulative state (`deltas.py`) and last-seen time are
updated in the same transaction as the points, so a redelivered batch changes nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from aiops_core.models import MetricKind, Temporality
from aiops_core.store.partitions import METRIC_POINTS
from aiops_core.store.pool import Connection
from aiops_core.store.repository import Database
from aiops_detector.writer.batch import StoredPoint, StoredPointBatch
from aiops_detector.writer.deltas import Cumulative, Delta, Skipped, delta_of
from aiops_detector.writer.repository import InvalidBatchError, TelemetryRepository, timestamp

log = logging.getLogger(__name__)

POINT_COLUMNS = (
    "time",
    "series_id",
    "start_time",
    "value",
    "count",
    "sum",
    "bucket_bounds",
    "bucket_counts",
)
OVER_CAP = "over_cardinality_cap"
# Distinguishes the cardinality cap's advisory locks from the platform's others.
_CAP_LOCK_SEED = 7_420_003
# How long a series refused by the cap is refused without asking the database again.
_REFUSED_FOR_S = 60.0
# A metric over its cap is logged at most this often.
_WARN_EVERY_S = 600.0


@dataclass
class PointsWritten:
    stored: int = 0
    # Points not stored, by reason: over_cardinality_cap, superseded, no_reference.
    dropped: Counter[str] = field(default_factory=Counter)


def converts_to_deltas(point: StoredPoint) -> bool:
    """Cumulative counters, histograms and summaries are stored as deltas; a cumulative
    non-monotonic sum is a level (like a gauge) and is stored as it is."""
    return point.temporality is Temporality.CUMULATIVE and (
        point.kind is not MetricKind.SUM or point.monotonic
    )


def stored_temporality(point: StoredPoint) -> str | None:
    return Temporality.DELTA.value if converts_to_deltas(point) else point.temporality


def _cumulative(point: StoredPoint) -> Cumulative:
    # Times to the microsecond, as the state is kept: the same point must compare equal.
    return Cumulative(
        start_ns=point.start_time_unix_nano // 1000 * 1000,
        time_ns=point.time_unix_nano // 1000 * 1000,
        value=point.value,
        count=point.count,
        sum=point.sum,
        buckets=tuple(point.bucket_counts) if point.bucket_counts is not None else None,
        bounds=tuple(point.bounds) if point.bounds is not None else None,
    )


def _ns(moment: datetime | None) -> int:
    if moment is None:
        return 0
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _state(row: asyncpg.Record) -> Cumulative | None:
    if row["cumulative_time"] is None:
        return None
    buckets, bounds = row["cumulative_buckets"], row["cumulative_bounds"]
    return Cumulative(
        start_ns=_ns(row["cumulative_start"]),
        time_ns=_ns(row["cumulative_time"]),
        value=row["cumulative_value"],
        count=row["cumulative_count"],
        sum=row["cumulative_sum"],
        buckets=tuple(buckets) if buckets is not None else None,
        bounds=tuple(bounds) if bounds is not None else None,
    )


def _row(point: StoredPoint, delta: Delta | None) -> tuple[Any, ...]:
    if delta is None:  # stored as sent
        start_ns, value, count, total = point.start_time_unix_nano, point.value, point.count, point.sum
        buckets = point.bucket_counts
    else:
        start_ns, value, count, total = delta.start_ns, delta.value, delta.count, delta.sum
        buckets = list(delta.buckets) if delta.buckets is not None else None
    return (
        timestamp(point.time_unix_nano),
        point.series_id,
        timestamp(start_ns) if start_ns else None,
        value,
        count,
        total,
        point.bounds,
        buckets,
    )


class MetricPointRepository(TelemetryRepository):
    table = METRIC_POINTS
    signal = "metrics"

    def __init__(self, db: Database, *, partitioned: bool, series_limit: int) -> None:
        super().__init__(db, partitioned=partitioned)
        self._series_limit = series_limit
        self._refused_until: dict[int, float] = {}
        self._warned_at: dict[tuple[str, str], float] = {}

    async def write_batch(self, batch: StoredPointBatch) -> PointsWritten | None:
        """Store the batch's points and its id in one transaction; None (and nothing written)
        when the batch was already stored."""
        for point in batch.points:
            if not str(point.attributes, "utf-8").startswith("{"):
                raise InvalidBatchError("a metric point cannot be stored: attributes are not a JSON object")
        points = sorted(batch.points, key=lambda p: (p.series_id, p.time_unix_nano))
        first_of = {point.series_id: point for point in reversed(points)}
        await self.ensure_partitions({timestamp(p.time_unix_nano).date() for p in points})
        written = PointsWritten()
        async with self.transaction() as conn:
            if not await self.claim_batch(conn, batch.batch_id, len(points)):
                return None
            states = await self._lock_series(conn, list(first_of))
            missing = [first_of[sid] for sid in first_of if sid not in states and not self._refused(sid)]
            if missing:
                states |= await self._lock_series(conn, await self._register(conn, missing))
            rows, updates = self._rows_and_updates(points, states, written)
            if rows:
                await conn.copy_records_to_table(METRIC_POINTS, records=rows, columns=POINT_COLUMNS)
            await conn.executemany(
                """
                UPDATE metric_series SET last_seen = greatest(last_seen, $2),
                    cumulative_start = $3, cumulative_time = $4, cumulative_value = $5,
                    cumulative_count = $6, cumulative_sum = $7, cumulative_buckets = $8,
                    cumulative_bounds = $9
                WHERE series_id = $1
                """,
                updates,
            )
        return written

    def _rows_and_updates(
        self, points: list[StoredPoint], states: dict[int, Cumulative | None], written: PointsWritten
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        rows: list[tuple[Any, ...]] = []
        last_seen: dict[int, int] = {}
        for point in points:
            if point.series_id not in states:
                written.dropped[OVER_CAP] += 1
                continue
            last_seen[point.series_id] = point.time_unix_nano
            if not converts_to_deltas(point):
                rows.append(_row(point, None))
                continue
            current = _cumulative(point)
            delta = delta_of(current, states[point.series_id])
            if isinstance(delta, Skipped):
                written.dropped[delta.value] += 1
                if delta is Skipped.SUPERSEDED:
                    continue
            else:
                rows.append(_row(point, delta))
            states[point.series_id] = current
        written.stored = len(rows)
        updates = []
        for series_id, seen_ns in last_seen.items():
            state = states[series_id]
            updates.append(
                (
                    series_id,
                    timestamp(seen_ns),
                    *(
                        (
                            timestamp(state.start_ns) if state.start_ns else None,
                            timestamp(state.time_ns),
                            state.value,
                            state.count,
                            state.sum,
                            list(state.buckets) if state.buckets is not None else None,
                            list(state.bounds) if state.bounds is not None else None,
                        )
                        if state is not None
                        else (None,) * 7
                    ),
                )
            )
        return rows, updates

    async def _lock_series(self, conn: Connection, ids: list[int]) -> dict[int, Cumulative | None]:
        """Lock the rows of these series (those that exist) and read their cumulative state."""
        rows = await conn.fetch(
            """
            SELECT series_id, cumulative_start, cumulative_time, cumulative_value, cumulative_count,
                   cumulative_sum, cumulative_buckets, cumulative_bounds
            FROM metric_series WHERE series_id = ANY($1::bigint[])
            ORDER BY series_id FOR UPDATE
            """,
            ids,
        )
        return {row["series_id"]: _state(row) for row in rows}

    async def _register(self, conn: Connection, points: list[StoredPoint]) -> list[int]:
        """Create the series of these points (each its series' first) that the cap admits; return
        the ids of those that now exist. Creating series of one metric is serialised across writers
        (an advisory lock per service and name), so that they cannot together exceed the cap."""
        metrics = sorted({(p.service, p.name) for p in points})
        services, names = [m[0] for m in metrics], [m[1] for m in metrics]
        await conn.execute(
            """
            SELECT pg_advisory_xact_lock(key) FROM (
                SELECT DISTINCT hashtextextended(service || chr(1) || name, $3) AS key
                FROM unnest($1::text[], $2::text[]) AS m(service, name) ORDER BY key
            ) AS keys
            """,
            services,
            names,
            _CAP_LOCK_SEED,
        )
        existing = {
            row["series_id"]
            for row in await conn.fetch(
                "SELECT series_id FROM metric_series WHERE series_id = ANY($1::bigint[])",
                [p.series_id for p in points],
            )
        }
        counts = {
            (row["service"], row["name"]): row["n"]
            for row in await conn.fetch(
                """
                SELECT service, name, count(*) AS n FROM metric_series
                WHERE (service, name) IN (SELECT * FROM unnest($1::text[], $2::text[]))
                GROUP BY service, name
                """,
                services,
                names,
            )
        }
        admitted: list[StoredPoint] = []
        for point in sorted(points, key=lambda p: p.series_id):
            if point.series_id in existing:
                continue
            metric = (point.service, point.name)
            if counts.get(metric, 0) >= self._series_limit:
                self._refuse(point)
                continue
            counts[metric] = counts.get(metric, 0) + 1
            admitted.append(point)
        await conn.executemany(
            """
            INSERT INTO metric_series (series_id, service, instance, name, kind, monotonic, temporality,
                                       unit, description, attributes, first_seen, last_seen)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
            ON CONFLICT (series_id) DO NOTHING
            """,
            [
                (
                    p.series_id,
                    p.service,
                    p.instance,
                    p.name,
                    p.kind.value,
                    p.monotonic,
                    stored_temporality(p),
                    p.unit,
                    p.description,
                    str(p.attributes, "utf-8"),
                    timestamp(p.time_unix_nano),
                )
                for p in admitted
            ],
        )
        return sorted(existing | {p.series_id for p in admitted})

    def _refused(self, series_id: int) -> bool:
        until = self._refused_until.get(series_id)
        if until is None:
            return False
        if until > time.monotonic():
            return True
        del self._refused_until[series_id]
        return False

    def _refuse(self, point: StoredPoint) -> None:
        now = time.monotonic()
        if len(self._refused_until) > 100_000:
            self._refused_until.clear()  # bounded: at worst, the database is asked again
        self._refused_until[point.series_id] = now + _REFUSED_FOR_S
        metric = (point.service, point.name)
        if now - self._warned_at.get(metric, -_WARN_EVERY_S) < _WARN_EVERY_S:
            return
        self._warned_at[metric] = now
        log.warning(
            "metric at its series limit: the points of its new series are dropped",
            extra={
                "service": point.service,
                "metric": point.name,
                "series_limit": self._series_limit,
                "attributes": json.loads(point.attributes),
            },
        )
