"""The metric points' SQL: batches written exactly once, each point under its series.

Every series has a row in `metric_series`, created with its first point, unless its metric (its
service and name) already has `series_limit` series: then its points are dropped and counted
(`over_cardinality_cap`), so that one label with unbounded values cannot flood the store. The
rows of a batch's cumulative series are locked for its transaction, in the order of their ids,
so that writers sharing a series take turns; their state (`deltas.py`) is updated in the same
transaction as the points, so a redelivered batch changes nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
# How far a series' recorded last-seen time may lag behind its latest point.
_LAST_SEEN_STEP = timedelta(hours=1)


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


def _array(values: tuple[float, ...] | None) -> str | None:
    """A PostgreSQL array literal: arrays of arrays do not pass through unnest()."""
    return None if values is None else "{" + ",".join(repr(float(v)) for v in values) + "}"


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
            seen = await self._last_seen(conn, list(first_of))
            missing = [first_of[sid] for sid in first_of if sid not in seen and not self._refused(sid)]
            if missing:
                # Just created: their last-seen time is their first point's.
                seen |= dict.fromkeys(await self._register(conn, missing))
            cumulative = sorted(
                {p.series_id for p in points if p.series_id in seen and converts_to_deltas(p)}
            )
            states = await self._lock_states(conn, cumulative) if cumulative else {}
            rows = self._rows(points, seen, states, written)
            if rows:
                await conn.copy_records_to_table(METRIC_POINTS, records=rows, columns=POINT_COLUMNS)
            await self._save_states(conn, states)
            await self._refresh_last_seen(conn, seen, points)
        return written

    def _rows(
        self,
        points: list[StoredPoint],
        seen: dict[int, datetime | None],
        states: dict[int, Cumulative | None],
        written: PointsWritten,
    ) -> list[tuple[Any, ...]]:
        """The rows of the points, their cumulative ones turned into deltas; `states` left holding
        each cumulative series' last point."""
        rows: list[tuple[Any, ...]] = []
        for point in points:
            if point.series_id not in seen:
                written.dropped[OVER_CAP] += 1
                continue
            if not converts_to_deltas(point):
                rows.append(_row(point, None))
                continue
            current = _cumulative(point)
            delta = delta_of(current, states.get(point.series_id))
            if isinstance(delta, Skipped):
                written.dropped[delta.value] += 1
                if delta is Skipped.SUPERSEDED:
                    continue
            else:
                rows.append(_row(point, delta))
            states[point.series_id] = current
        written.stored = len(rows)
        return rows

    async def _last_seen(self, conn: Connection, ids: list[int]) -> dict[int, datetime | None]:
        """The series of these that exist, with when each was last seen."""
        rows = await conn.fetch(
            "SELECT series_id, last_seen FROM metric_series WHERE series_id = ANY($1::bigint[])", ids
        )
        return {row["series_id"]: row["last_seen"] for row in rows}

    async def _lock_states(self, conn: Connection, ids: list[int]) -> dict[int, Cumulative | None]:
        """Lock the rows of these cumulative series, in the order of their ids, and read their
        state: writers sharing a series take turns."""
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

    async def _save_states(self, conn: Connection, states: dict[int, Cumulative | None]) -> None:
        """Each cumulative series' last point, and when it was seen, in one statement."""
        saved = [(series_id, state) for series_id, state in states.items() if state is not None]
        if not saved:
            return
        await conn.execute(
            """
            UPDATE metric_series AS s
            SET last_seen = greatest(s.last_seen, u.time), cumulative_start = u.start_time,
                cumulative_time = u.time, cumulative_value = u.value, cumulative_count = u.count,
                cumulative_sum = u.sum, cumulative_buckets = u.buckets::double precision[],
                cumulative_bounds = u.bounds::double precision[]
            FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::float8[], $5::float8[],
                        $6::float8[], $7::text[], $8::text[])
                AS u(series_id, start_time, time, value, count, sum, buckets, bounds)
            WHERE s.series_id = u.series_id
            """,
            [series_id for series_id, _ in saved],
            [timestamp(state.start_ns) if state.start_ns else None for _, state in saved],
            [timestamp(state.time_ns) for _, state in saved],
            [state.value for _, state in saved],
            [state.count for _, state in saved],
            [state.sum for _, state in saved],
            [_array(state.buckets) for _, state in saved],
            [_array(state.bounds) for _, state in saved],
        )

    async def _refresh_last_seen(
        self, conn: Connection, seen: dict[int, datetime | None], points: list[StoredPoint]
    ) -> None:
        """Move the last-seen time of the series it has drifted from by more than `_LAST_SEEN_STEP`:
        it only decides when a series is forgotten (days), and rewriting every series' row with
        every batch would cost a row version each."""
        newest_ns = {point.series_id: point.time_unix_nano for point in points}  # sorted by time
        latest: dict[int, datetime] = {}
        for series_id, time_ns in newest_ns.items():
            known = seen.get(series_id)
            moment = timestamp(time_ns)
            if known is not None and moment - known > _LAST_SEEN_STEP:
                latest[series_id] = moment
        if not latest:
            return
        ids = sorted(latest)
        await conn.execute(
            """
            UPDATE metric_series AS s SET last_seen = u.seen
            FROM unnest($1::bigint[], $2::timestamptz[]) AS u(series_id, seen)
            WHERE s.series_id = u.series_id AND s.last_seen < u.seen
            """,
            ids,
            [latest[series_id] for series_id in ids],
        )

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
