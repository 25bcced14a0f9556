"""The detection SQL: per-minute rollups of each series' spans, and the anomalies table."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from aiops_core.healthy_time import Measure, Trouble
from aiops_core.models import Anomaly, AnomalyEvidence, AnomalyKind
from aiops_core.store.pool import Connection
from aiops_core.store.repository import Repository
from aiops_core.windows import Series
from aiops_detector.detection.baselines import RollupRow
from aiops_detector.detection.metric_steps import MetricSeries, StoredPoint
from aiops_detector.detection.versions import record_new_versions

# Arbitrary, fixed: one replica at a time rolls up.
ROLLUP_LOCK_KEY = 7_420_002
ROLLUP_NAME = "series"

# The series as `aiops_core.windows` counts them: a service's requests, and the calls to a peer
# that sends no spans (an HTTP peer once the service graph found no server span answering it).
_HTTP_PEERS = "SELECT target FROM service_edges WHERE target_kind = 'http'"
_ROLL_UP = f"""
INSERT INTO series_rollups AS r
    (service, operation, minute, requests, errors, p50_ms, p95_ms, p99_ms, first_start, covered_until)
SELECT name, operation, date_bin('1 minute', start_time, 'epoch'::timestamptz),
       count(*), count(*) FILTER (WHERE is_error),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms),
       percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms),
       percentile_disc(0.99) WITHIN GROUP (ORDER BY duration_ms),
       min(start_time), $2
FROM (
    SELECT service AS name, operation, start_time, duration_ms, is_error FROM spans
    WHERE start_time >= $1 AND start_time < $2
      AND (kind IN ('server', 'consumer') OR parent_span_id IS NULL)
    UNION ALL
    SELECT peer, operation, start_time, duration_ms, is_error FROM spans
    WHERE start_time >= $1 AND start_time < $2
      AND peer IS NOT NULL AND kind IN ('client', 'producer') AND parent_span_id IS NOT NULL
      AND (peer_kind <> 'http' OR peer IN ({_HTTP_PEERS}))
) AS series_spans
GROUP BY 1, 2, 3
ON CONFLICT (service, operation, minute) DO UPDATE SET
    requests = excluded.requests, errors = excluded.errors, p50_ms = excluded.p50_ms,
    p95_ms = excluded.p95_ms, p99_ms = excluded.p99_ms, first_start = excluded.first_start,
    covered_until = excluded.covered_until
"""

_ANOMALY_COLUMNS = (
    "id, service, operation, kind, score, started_at, detected_at, window_s, observed, baseline, "
    "evidence, cleared_at"
)


@dataclass(frozen=True)
class OpenAnomaly:
    anomaly: Anomaly
    calm_since: datetime | None
    # When an operator accepted its series and kind as normal since it started, if they did.
    accepted_at: datetime | None = None


@dataclass(frozen=True)
class SeriesLearning:
    series: Series
    measured_at: datetime
    history_s: dict[Measure, float]
    min_history_s: float


@dataclass(frozen=True)
class PendingEvents:
    conn: Connection
    events: list[tuple[str, Anomaly]]

    async def mark_published(self, event: str, anomaly_id: UUID, at: datetime) -> None:
        column = "detected_published_at" if event == "detected" else "cleared_published_at"
        await self.conn.execute(f"UPDATE anomalies SET {column} = $2 WHERE id = $1", anomaly_id, at)


class DetectionRepository(Repository):
    async def roll_up(self, until: datetime, *, first_run_from: datetime) -> bool:
        """Roll up request spans from where the last run stopped to `until` (the minute in
        progress included, to be rolled up again next time), and record the new versions they
        carry as changes. False when another replica holds the job."""
        async with self.transaction() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", ROLLUP_LOCK_KEY):
                return False
            done_until = await conn.fetchval(
                "SELECT done_until FROM rollup_progress WHERE name = $1", ROLLUP_NAME
            )
            start = done_until if done_until is not None else first_run_from
            await conn.execute(_ROLL_UP, start, until)
            await record_new_versions(conn, start, until)
            await conn.execute(
                """
                INSERT INTO rollup_progress (name, done_until)
                VALUES ($1, date_bin('1 minute', $2::timestamptz, 'epoch'::timestamptz))
                ON CONFLICT (name) DO UPDATE SET done_until = excluded.done_until
                """,
                ROLLUP_NAME,
                until,
            )
        return True

    async def http_peers(self) -> frozenset[str]:
        """The HTTP peers the service graph found sending no spans (see `aiops_core.windows.counted`)."""
        return frozenset(r["target"] for r in await self.db.fetch(_HTTP_PEERS))

    async def forget_rollups_before(self, cutoff: datetime) -> int:
        status = await self.db.execute("DELETE FROM series_rollups WHERE minute < $1", cutoff)
        return int(status.split()[-1])

    async def first_seen(self, series: Series) -> datetime | None:
        value: datetime | None = await self.db.fetchval(
            """
            SELECT first_start FROM series_rollups WHERE service = $1 AND operation = $2
            ORDER BY minute LIMIT 1
            """,
            series.service,
            series.operation,
        )
        return value

    async def rollups(self, series: Series, ranges: Sequence[tuple[datetime, datetime]]) -> list[RollupRow]:
        rows = await self.db.fetch(
            """
            SELECT DISTINCT r.minute, r.requests, r.errors, r.p50_ms, r.p95_ms, r.first_start,
                   r.covered_until
            FROM unnest($3::timestamptz[], $4::timestamptz[]) AS span (lo, hi)
            JOIN series_rollups r
              ON r.service = $1 AND r.operation = $2 AND r.minute >= span.lo AND r.minute < span.hi
            ORDER BY r.minute
            """,
            series.service,
            series.operation,
            [lo for lo, _ in ranges],
            [hi for _, hi in ranges],
        )
        return [RollupRow(**dict(row)) for row in rows]

    async def troubles(self, service: str, since: datetime, operation: str | None = None) -> list[Trouble]:
        """The anomalies of one series of the service (of all of them without `operation`), of
        every kind, open at some time after `since`."""
        rows = await self.db.fetch(
            """
            SELECT kind, started_at, cleared_at FROM anomalies
            WHERE service = $1 AND ($2::text IS NULL OR operation = $2)
              AND (cleared_at IS NULL OR cleared_at > $3)
            """,
            service,
            operation,
            since,
        )
        return [Trouble(AnomalyKind(r["kind"]), r["started_at"], r["cleared_at"]) for r in rows]

    async def acceptances(self, series: Series) -> dict[AnomalyKind, datetime]:
        """When each kind of the series was last accepted as normal by an operator."""
        rows = await self.db.fetch(
            """
            SELECT kind, max(accepted_at) AS accepted_at FROM baseline_acceptances
            WHERE service = $1 AND operation = $2 GROUP BY kind
            """,
            series.service,
            series.operation,
        )
        return {AnomalyKind(r["kind"]): r["accepted_at"] for r in rows}

    async def record_learning(self, learning: Sequence[SeriesLearning]) -> None:
        if not learning:
            return
        await self.db.executemany(
            """
            INSERT INTO series_learning (service, operation, measured_at, history_s, min_history_s)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (service, operation) DO UPDATE SET
                measured_at = excluded.measured_at, history_s = excluded.history_s,
                min_history_s = excluded.min_history_s
            WHERE series_learning.measured_at < excluded.measured_at
            """,
            [
                (
                    one.series.service,
                    one.series.operation,
                    one.measured_at,
                    json.dumps({measure.value: round(s, 1) for measure, s in one.history_s.items()}),
                    one.min_history_s,
                )
                for one in learning
            ],
        )

    async def open_anomalies(self, kind: AnomalyKind | None = None) -> list[OpenAnomaly]:
        """The open anomalies (of `kind` alone, when given)."""
        rows = await self.db.fetch(
            f"""
            SELECT {_ANOMALY_COLUMNS}, calm_since,
                   (SELECT max(b.accepted_at) FROM baseline_acceptances b
                    WHERE b.service = a.service AND b.operation = a.operation AND b.kind = a.kind
                      AND b.accepted_at >= a.started_at) AS accepted_at
            FROM anomalies a WHERE cleared_at IS NULL AND ($1::text IS NULL OR kind = $1)
            """,
            kind.value if kind else None,
        )
        return [OpenAnomaly(_anomaly(row), row["calm_since"], row["accepted_at"]) for row in rows]

    async def open(self, anomaly: Anomaly) -> bool:
        """Insert an open anomaly; False when its series and kind already has one."""
        inserted = await self.db.fetchval(
            """
            INSERT INTO anomalies (id, service, operation, kind, score, peak_score, started_at,
                                   detected_at, window_s, observed, baseline, evidence)
            VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT (service, operation, kind) WHERE cleared_at IS NULL DO NOTHING
            RETURNING id
            """,
            anomaly.id,
            anomaly.service,
            anomaly.operation,
            anomaly.kind.value,
            anomaly.score,
            anomaly.started_at,
            anomaly.detected_at,
            anomaly.window_s,
            json.dumps(anomaly.observed),
            json.dumps(anomaly.baseline),
            anomaly.evidence.model_dump_json(),
        )
        return inserted is not None

    async def still_anomalous(self, anomaly_id: UUID, score: float) -> None:
        await self.db.execute(
            """
            UPDATE anomalies SET score = $2, peak_score = greatest(peak_score, $2), calm_since = NULL
            WHERE id = $1 AND cleared_at IS NULL
            """,
            anomaly_id,
            score,
        )

    async def clear(self, anomaly_id: UUID, now: datetime) -> bool:
        """Clear the anomaly at once (its series and kind were accepted as normal)."""
        cleared = await self.db.fetchval(
            "UPDATE anomalies SET cleared_at = $2 WHERE id = $1 AND cleared_at IS NULL RETURNING id",
            anomaly_id,
            now,
        )
        return cleared is not None

    async def calm(self, anomaly_id: UUID, now: datetime, clear_after: timedelta) -> bool:
        """Record that the anomaly's series looked normal at `now`; clear it once it has looked
        normal for `clear_after`. True when this call cleared it."""
        cleared = await self.db.fetchval(
            """
            UPDATE anomalies
            SET calm_since = coalesce(calm_since, $2),
                cleared_at = CASE WHEN $2 - coalesce(calm_since, $2) >= $3 THEN $2 END
            WHERE id = $1 AND cleared_at IS NULL
            RETURNING cleared_at
            """,
            anomaly_id,
            now,
            clear_after,
        )
        return cleared is not None

    @asynccontextmanager
    async def unpublished_events(self, limit: int = 100) -> AsyncIterator[PendingEvents]:
        """Events not yet published, locked until the block ends so that one replica at a time
        publishes each; those marked inside the block stay marked."""
        async with self.transaction() as conn:
            rows = await conn.fetch(
                f"""
                SELECT {_ANOMALY_COLUMNS}, detected_published_at FROM anomalies
                WHERE detected_published_at IS NULL
                   OR (cleared_at IS NOT NULL AND cleared_published_at IS NULL)
                ORDER BY detected_at LIMIT $1
                FOR UPDATE SKIP LOCKED
                """,
                limit,
            )
            events = [
                ("detected" if row["detected_published_at"] is None else "cleared", _anomaly(row))
                for row in rows
            ]
            yield PendingEvents(conn, events)

    async def gauge_series(self, seen_since: datetime) -> list[MetricSeries]:
        """The metric series that hold a level (gauges, and non-monotonic cumulative sums such as
        up-down counters) seen since then (to within the hour a series' last-seen time lags)."""
        return await self.metric_series(seen_since, levels_only=True)

    async def gauge_points(
        self, series_ids: Sequence[int], since: datetime
    ) -> dict[int, list[tuple[float, float]]]:
        """Each series' values since then, as (seconds since the epoch, value), oldest first."""
        rows = await self.db.fetch(
            """
            SELECT series_id, extract(epoch FROM time)::float8 AS at, value FROM metric_points
            WHERE series_id = ANY($1::bigint[]) AND time >= $2 AND value IS NOT NULL
            ORDER BY series_id, time
            """,
            list(series_ids),
            since,
        )
        points: dict[int, list[tuple[float, float]]] = {}
        for row in rows:
            points.setdefault(row["series_id"], []).append((row["at"], row["value"]))
        return points

    async def metric_series(self, seen_since: datetime, *, levels_only: bool = False) -> list[MetricSeries]:
        """Every metric series seen since then (to within the hour a series' last-seen time lags);
        with `levels_only`, those that hold a level (see `gauge_series`)."""
        rows = await self.db.fetch(
            """
            SELECT series_id, service, instance, name, kind, temporality, attributes::text AS attributes
            FROM metric_series
            WHERE last_seen >= $1
              AND (NOT $2 OR kind = 'gauge'
                   OR (kind = 'sum' AND NOT monotonic AND temporality = 'cumulative'))
            """,
            seen_since,
            levels_only,
        )
        return [
            MetricSeries(
                row["series_id"],
                row["service"],
                row["instance"],
                row["name"],
                row["kind"],
                row["temporality"],
                json.loads(row["attributes"]),
            )
            for row in rows
        ]

    async def metric_points(self, series_ids: Sequence[int], since: datetime) -> dict[int, list[StoredPoint]]:
        """Each series' points since then, oldest first (times as seconds since the epoch)."""
        rows = await self.db.fetch(
            """
            SELECT series_id, extract(epoch FROM time)::float8 AS at,
                   extract(epoch FROM start_time)::float8 AS start, value, count, sum
            FROM metric_points WHERE series_id = ANY($1::bigint[]) AND time >= $2
            ORDER BY series_id, time
            """,
            list(series_ids),
            since,
        )
        points: dict[int, list[StoredPoint]] = {}
        for row in rows:
            point = StoredPoint(row["at"], row["start"], row["value"], row["count"], row["sum"])
            points.setdefault(row["series_id"], []).append(point)
        return points

    async def troubles_of_kind(
        self, kind: AnomalyKind, since: datetime
    ) -> dict[tuple[str, str], list[Trouble]]:
        """Per series (service, operation), its anomalies of this kind open at some time after
        `since` (`troubles` for one series, of every kind)."""
        rows = await self.db.fetch(
            """
            SELECT service, operation, started_at, cleared_at FROM anomalies
            WHERE kind = $1 AND (cleared_at IS NULL OR cleared_at > $2)
            """,
            kind.value,
            since,
        )
        troubles: dict[tuple[str, str], list[Trouble]] = {}
        for row in rows:
            troubles.setdefault((row["service"], row["operation"]), []).append(
                Trouble(kind, row["started_at"], row["cleared_at"])
            )
        return troubles

    async def error_log_minutes(
        self, services: Sequence[str], since: datetime, until: datetime
    ) -> dict[str, dict[datetime, int]]:
        """These services' error-level log records (ERROR and FATAL) per minute of a period."""
        rows = await self.db.fetch(
            """
            SELECT service, date_bin('1 minute', time, TIMESTAMPTZ '2000-01-01') AS minute, count(*) AS n
            FROM log_records
            WHERE severity_number >= 17 AND time >= $2 AND time < $3 AND service = ANY($1::text[])
            GROUP BY 1, 2
            """,
            list(services),
            since,
            until,
        )
        minutes: dict[str, dict[datetime, int]] = {}
        for row in rows:
            minutes.setdefault(row["service"], {})[row["minute"]] = row["n"]
        return minutes

    async def first_logged(self, service: str, since: datetime) -> datetime | None:
        """When the service first logged anything (any severity) since then: how long its usual
        minutes go back (an index seek on its records)."""
        first: datetime | None = await self.db.fetchval(
            "SELECT min(time) FROM log_records WHERE service = $1 AND time >= $2", service, since
        )
        return first

    async def error_logs_since(self, since: datetime) -> dict[str, int]:
        """Each service's error-level log records since then."""
        rows = await self.db.fetch(
            "SELECT service, count(*) AS n FROM log_records WHERE severity_number >= 17 AND time >= $1 "
            "GROUP BY service",
            since,
        )
        return {row["service"]: row["n"] for row in rows}

    async def anomalies(self, since: datetime) -> list[Anomaly]:
        rows = await self.db.fetch(
            f"SELECT {_ANOMALY_COLUMNS} FROM anomalies WHERE detected_at >= $1 ORDER BY detected_at", since
        )
        return [_anomaly(row) for row in rows]


def _anomaly(row: asyncpg.Record) -> Anomaly:
    values: dict[str, Any] = {name: row[name] for name in _ANOMALY_COLUMNS.split(", ")}
    for name in ("observed", "baseline"):
        values[name] = json.loads(values[name])
    values["evidence"] = AnomalyEvidence.model_validate_json(values["evidence"])
    values["kind"] = AnomalyKind(values["kind"])
    return Anomaly(**values)
