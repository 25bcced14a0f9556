"""Query-side benchmark: a trace by its id, and a service's series, with millions of spans stored.

Loads spans straight into a database of its own with SQL (traces of 8 spans; 20 services of 10
operations each; spread over the last 24 hours; the dozen attributes of an HTTP server span each),
rolls them up per minute as the detector does, starts `aiops serve incidents` as its own process
and times, one request at a time:

- GET /aiops/traces/{id} for stored traces picked at random;
- GET /aiops/services/{service}/series over the last 60 minutes and the last 1,440.

It prints p50, p95 and p99 of each, and the size of what is stored.

    make bench-query                                  # 10,000,000 spans
    .venv/bin/python bench/query.py --spans 1000000   # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiops_core.store import migrate
from aiops_core.store.partitions import SPANS, ensure_partitions
from aiops_detector.detection.repository import DetectionRepository
from bench.sandbox import bench_platform
from tests.support.processes import ServiceProcess

SPANS_PER_TRACE = 8
SERVICES = 20
OPERATIONS = 10
LOAD_CHUNK = 1_000_000

# One row per span, `i` its number: every column as ingest would store it.
_LOAD = f"""
INSERT INTO spans (start_time, trace_id, span_id, parent_span_id, service, operation, kind,
                   duration_ms, http_status, is_error, error_message, attributes, instance)
SELECT $1::timestamptz + (i::float8 / $2) * interval '24 hours',
       decode(md5((i / {SPANS_PER_TRACE})::text), 'hex'),
       decode(substr(md5(i::text), 1, 16), 'hex'),
       CASE WHEN i % {SPANS_PER_TRACE} = 0 THEN NULL
            ELSE decode(substr(md5((i - i % {SPANS_PER_TRACE})::text), 1, 16), 'hex') END,
       'svc-' || ((i / {SPANS_PER_TRACE} + i % {SPANS_PER_TRACE}) % {SERVICES}),
       'GET /op/' || (i % {OPERATIONS}),
       'server',
       5 + (i % 97),
       CASE WHEN i % 101 = 0 THEN 500 ELSE 200 END,
       i % 101 = 0,
       CASE WHEN i % 101 = 0 THEN 'HTTP 500' END,
       jsonb_build_object(
           'http.request.method', 'GET', 'http.route', '/op/' || (i % {OPERATIONS}),
           'http.response.status_code', 200, 'url.path', '/op/' || (i % 1000),
           'url.scheme', 'http', 'server.address', 'shop.internal', 'server.port', 8080,
           'network.protocol.version', '1.1', 'user_agent.original', 'bench/1.0',
           'client.address', '10.0.0.' || (i % 250), 'service.instance.id', 'pod-' || (i % 3)),
       'pod-' || (i % 3)
FROM generate_series($3::bigint, $4::bigint) AS i
"""


async def load(database_url: str, spans: int, start: datetime) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        await ensure_partitions(conn, SPANS, {(start + timedelta(hours=h)).date() for h in range(0, 25)})
        began = time.perf_counter()
        for first in range(0, spans, LOAD_CHUNK):
            last = min(spans, first + LOAD_CHUNK) - 1
            await conn.execute(_LOAD, start, spans, first, last)
            print(f"  loaded {last + 1:>12,} spans  ({time.perf_counter() - began:5.0f} s)", flush=True)
        await conn.execute("ANALYZE spans")
        await DetectionRepository(conn).roll_up(start + timedelta(hours=24), first_run_from=start)
        print(f"  rolled up per minute   ({time.perf_counter() - began:5.0f} s)", flush=True)
    finally:
        await conn.close()


async def timed(client: httpx.AsyncClient, urls: list[str]) -> list[float]:
    """Milliseconds each GET took, one at a time, after one untimed warm-up request each."""
    for url in urls[:5]:
        (await client.get(url)).raise_for_status()
    took = []
    for url in urls:
        started = time.perf_counter()
        response = await client.get(url)
        took.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return took


def summary(name: str, took: list[float]) -> str:
    ordered = sorted(took)
    q = statistics.quantiles(ordered, n=100)
    return f"  {name:<44}{q[49]:>8.1f}{q[94]:>8.1f}{q[98]:>8.1f}   ({len(took)} requests)"


async def run(args: argparse.Namespace) -> None:
    async with bench_platform() as platform:
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=24)
        print(f"loading {args.spans:,} spans over the last 24 hours ...", flush=True)
        await load(platform.database_url, args.spans, start)
        # The API's rate limit would time the limiter's refusals, not the queries.
        incidents = ServiceProcess("incidents", platform.env | {"AIOPS_API_RATE_LIMIT_PER_S": "0"}).start()
        try:
            await incidents.wait_ready()
            rng = random.Random(7)
            traces = [rng.randrange(args.spans // SPANS_PER_TRACE) for _ in range(args.requests)]
            conn = await asyncpg.connect(platform.database_url)
            ids = [await conn.fetchval("SELECT md5($1::bigint::text)", t) for t in traces]
            table = await conn.fetchrow(
                "SELECT sum(pg_table_size(c.oid)) AS data, sum(pg_indexes_size(c.oid)) AS indexes "
                "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'spans'::regclass"
            )
            await conn.close()
            async with httpx.AsyncClient(base_url=incidents.url, timeout=30) as client:
                trace_ms = await timed(client, [f"/aiops/traces/{trace_id}" for trace_id in ids])
                services = [f"svc-{rng.randrange(SERVICES)}" for _ in range(args.requests)]
                hour_ms = await timed(client, [f"/aiops/services/{s}/series?minutes=60" for s in services])
                day_ms = await timed(client, [f"/aiops/services/{s}/series?minutes=1440" for s in services])
        finally:
            incidents.stop()
    print(f"\nquery benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  spans={args.spans:,}")
    gigabytes = f"{table['data'] / 2**30:.2f} GB + {table['indexes'] / 2**30:.2f} GB"
    print(f"  {'stored (table + indexes)':<44}{gigabytes}")
    print(f"  {'milliseconds, one request at a time':<44}{'p50':>8}{'p95':>8}{'p99':>8}")
    print(summary("GET /aiops/traces/{id}", trace_ms))
    print(summary("GET /aiops/services/{s}/series?minutes=60", hour_ms))
    print(summary("GET /aiops/services/{s}/series?minutes=1440", day_ms))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=10_000_000, help="spans to store (default 10,000,000)")
    parser.add_argument("--requests", type=int, default=300, help="timed requests of each kind (default 300)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
