"""SQL over the stored spans that root-cause ranking and impact need."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from aiops_core.store.repository import Repository
from aiops_incidents.rca.instances import InstanceStats
from aiops_incidents.rca.log_evidence import ErrorLog
from aiops_incidents.rca.traces import StoredSpan, TraceTree
from aiops_incidents.severity import SeriesNow

# Error log records read per candidate: enough to count its templates, few enough to stay fast.
ERROR_LOGS = 1000
# Traces picked per member series; enough for a stable share of blame, few enough to stay fast.
TRACES_PER_SERIES = 20
USUAL_TRACES = 60
# The traces from before an incident start no later than this before it, so the learning of
# usual self-times is not already disturbed by the fault.
USUAL_GAP = timedelta(seconds=15)
USUAL_SPAN = timedelta(minutes=10)
# A trace's spans start within this of the span it was picked by.
TRACE_REACH = timedelta(minutes=1)
# Ids are stored as bytes and read as the hex the rest of the platform speaks.
STORED_SPAN_COLUMNS = (
    "encode(trace_id, 'hex') AS trace_id, encode(span_id, 'hex') AS span_id, "
    "encode(parent_span_id, 'hex') AS parent_span_id, service, operation, kind, start_time, "
    "duration_ms, is_error, error_message, peer, peer_kind, instance"
)
# The spans that show a series' trouble: a service's requests (server and consumer spans), or
# the calls to a peer (aiops_core.peers). $1 is the service or peer, $2 the operation.
_SERIES_SPANS = """
    operation = $2 AND (
        (service = $1 AND kind IN ('server', 'consumer')) OR (peer = $1 AND kind IN ('client', 'producer'))
    )
"""


class TraceRepository(Repository):
    async def troubled(
        self,
        service: str,
        operation: str,
        *,
        failed: bool,
        since: datetime,
        until: datetime,
    ) -> list[str]:
        """The latest failed requests of a series in a period, or its slowest ones."""
        order = "max(start_time) DESC" if failed else "max(duration_ms) DESC"
        rows = await self.db.fetch(
            f"""
            SELECT encode(trace_id, 'hex') AS trace_id FROM spans
            WHERE {_SERIES_SPANS} AND start_time >= $3 AND start_time < $4 {"AND is_error" if failed else ""}
            GROUP BY trace_id ORDER BY {order} LIMIT $5
            """,
            service,
            operation,
            since,
            until,
            TRACES_PER_SERIES,
        )
        return [r["trace_id"] for r in rows]

    async def usual(
        self, services: Sequence[str], before: datetime, inferred: Collection[str] = ()
    ) -> list[TraceTree]:
        """Recent traces through these services (or calling these peers) from before `before`, to
        learn usual self-times."""
        rows = await self.db.fetch(
            """
            SELECT encode(trace_id, 'hex') AS trace_id FROM spans
            WHERE (service = ANY($1) OR peer = ANY($1)) AND start_time >= $2 AND start_time < $3
              AND NOT is_error
            GROUP BY trace_id ORDER BY max(start_time) DESC LIMIT $4
            """,
            list(services),
            before - USUAL_GAP - USUAL_SPAN,
            before - USUAL_GAP,
            USUAL_TRACES,
        )
        return await self.trees(
            [r["trace_id"] for r in rows], before - USUAL_GAP - USUAL_SPAN, before, inferred
        )

    async def trees(
        self, trace_ids: Sequence[str], since: datetime, until: datetime, inferred: Collection[str] = ()
    ) -> list[TraceTree]:
        """The traces, each as a tree; `inferred`: the HTTP peers known to send no spans."""
        if not trace_ids:
            return []
        rows = await self.db.fetch(
            f"""
            SELECT {STORED_SPAN_COLUMNS}
            FROM spans WHERE trace_id = ANY($1::bytea[]) AND start_time >= $2 AND start_time < $3
            """,
            [bytes.fromhex(trace_id) for trace_id in set(trace_ids)],
            since - TRACE_REACH,
            until + TRACE_REACH,
        )
        by_trace: dict[str, list[StoredSpan]] = defaultdict(list)
        for row in rows:
            by_trace[row["trace_id"]].append(StoredSpan(**dict(row)))
        return [TraceTree(spans, inferred) for spans in by_trace.values()]

    async def trace(self, trace_id: str) -> list[StoredSpan]:
        rows = await self.db.fetch(
            f"""
            SELECT {STORED_SPAN_COLUMNS}
            FROM spans WHERE trace_id = $1 ORDER BY start_time, span_id
            """,
            bytes.fromhex(trace_id),
        )
        return [StoredSpan(**dict(row)) for row in rows]

    async def logs(self, trace_id: str) -> list[dict[str, Any]]:
        """The log records sent with the trace's context, by time."""
        rows = await self.db.fetch(
            """
            SELECT time, service, instance, severity_number, severity_text, body,
                   encode(span_id, 'hex') AS span_id, attributes::text AS attributes
            FROM log_records WHERE trace_id = $1 ORDER BY time
            """,
            bytes.fromhex(trace_id),
        )
        return [dict(row) | {"attributes": json.loads(row["attributes"])} for row in rows]

    async def error_logs(self, service: str, since: datetime, until: datetime) -> list[ErrorLog]:
        """The service's error-level log records (ERROR and FATAL) of a period, the latest
        `ERROR_LOGS` of them, oldest first."""
        rows = await self.db.fetch(
            """
            SELECT time, body, severity_text, encode(trace_id, 'hex') AS trace_id FROM (
                SELECT time, body, severity_text, trace_id FROM log_records
                WHERE service = $1 AND time >= $2 AND time <= $3 AND severity_number >= 17
                ORDER BY time DESC LIMIT $4
            ) AS latest ORDER BY time
            """,
            service,
            since,
            until,
            ERROR_LOGS,
        )
        return [ErrorLog(row["time"], row["body"], row["severity_text"], row["trace_id"]) for row in rows]

    async def instances(
        self, service: str, operation: str, since: datetime, until: datetime
    ) -> list[InstanceStats]:
        """A service series' requests in a period, by the instance that served them."""
        rows = await self.db.fetch(
            """
            SELECT coalesce(instance, 'unknown') AS instance, count(*) AS requests,
                   count(*) FILTER (WHERE is_error) AS errors,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms
            FROM spans
            WHERE service = $1 AND operation = $2 AND kind IN ('server', 'consumer')
              AND start_time >= $3 AND start_time < $4
            GROUP BY 1
            """,
            service,
            operation,
            since,
            until,
        )
        return [InstanceStats(r["instance"], r["requests"], r["errors"], r["p95_ms"]) for r in rows]

    async def entry_impact(
        self, since: datetime, until: datetime, *, usual_before: datetime
    ) -> tuple[int, int]:
        """Entry-point requests (root spans) in a period, and how many of them failed or took
        more than 1.5 times their operation's usual p95, learned in the 5 minutes before
        `usual_before` (the incident's start: later, the fault itself would be usual)."""
        row = await self.db.fetchrow(
            """
            WITH usual AS (
                SELECT service, operation, percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95
                FROM spans
                WHERE parent_span_id IS NULL AND start_time >= $3::timestamptz - interval '5 minutes'
                  AND start_time < $3::timestamptz - interval '15 seconds'
                GROUP BY service, operation
            )
            SELECT count(*) AS total,
                   count(*) FILTER (WHERE s.is_error OR s.duration_ms > 1.5 * u.p95) AS affected
            FROM spans s LEFT JOIN usual u USING (service, operation)
            WHERE s.parent_span_id IS NULL AND s.start_time >= $1 AND s.start_time < $2
            """,
            since,
            until,
            usual_before,
        )
        assert row is not None
        return int(row["total"]), int(row["affected"])

    async def series_now(
        self, series: Sequence[tuple[str, str]], since: datetime, until: datetime
    ) -> dict[tuple[str, str], SeriesNow]:
        """Each series' requests in a period: a service's (server, consumer and root spans), or a
        peer's (the calls to it)."""
        if not series:
            return {}
        rows = await self.db.fetch(
            """
            WITH wanted AS (SELECT * FROM unnest($1::text[], $2::text[]) AS m(name, operation)),
            calls AS (
                SELECT s.service AS name, s.operation, s.is_error, s.duration_ms
                FROM spans s JOIN wanted m ON s.service = m.name AND s.operation = m.operation
                WHERE s.start_time >= $3 AND s.start_time < $4
                  AND (s.kind IN ('server', 'consumer') OR s.parent_span_id IS NULL)
                UNION ALL
                SELECT s.peer, s.operation, s.is_error, s.duration_ms
                FROM spans s JOIN wanted m ON s.peer = m.name AND s.operation = m.operation
                WHERE s.start_time >= $3 AND s.start_time < $4 AND s.kind IN ('client', 'producer')
            )
            SELECT name, operation, count(*) AS requests, count(*) FILTER (WHERE is_error) AS errors,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms
            FROM calls GROUP BY name, operation
            """,
            [name for name, _ in series],
            [operation for _, operation in series],
            since,
            until,
        )
        return {(r["name"], r["operation"]): SeriesNow(r["requests"], r["errors"], r["p95_ms"]) for r in rows}
