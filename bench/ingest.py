"""End-to-end ingest benchmark: OTLP protobuf requests -> ingest -> RabbitMQ -> writer -> PostgreSQL,
and the detector's windows beside the writer.

Starts `aiops serve ingest`, the span writer (`aiops serve detector` with detection off) and the
detection (`aiops serve detector` with the writer off) as separate processes on a database and a
RabbitMQ vhost of their own, posts pre-built OTLP requests (512 spans of ~10 attributes each)
with a few concurrent clients, and prints:

- spans/s end to end, from the first request sent to the last row committed;
- the raw COPY rate of the same database in the same run (same columns and indexes), and their
  ratio;
- that nothing was lost or doubled (distinct span ids stored = spans accepted);
- how long after the last commit the detector's windows had merged every batch too (whether
  detection keeps up with the rate);
- the cost per span: CPU microseconds per span spent by each process (ingest, writer, detector
  windows, PostgreSQL, RabbitMQ, Redis and this load client) from the first request until the
  windows had merged the last batch, and peak RSS of the platform's own;
- bytes stored per span: the spans table (all its partitions) and its indexes;
- then the same way, one signal after the other: metric points/s (64 instances of a service
  exporting in turn, a third of their series cumulative counters and a third cumulative
  histograms, which the writer turns into deltas, a third gauges; whether the counters' deltas
  add up) and log records/s end to end, what was stored, and the CPU per item of ingest and the
  writer.

    make bench-ingest                       # defaults
    .venv/bin/python bench/ingest.py --spans 400000 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiops_core.bus.topology import SPAN_DETECT_QUEUE
from aiops_detector.writer.repository import SPAN_COLUMNS, span_record
from bench.sandbox import bench_platform
from tests.support.bus import depth
from tests.support.otlp import (
    build_request,
    counter,
    gauge,
    histogram,
    http_server_span,
    log_record,
    logs_request,
    metrics_request,
    number_point,
)
from tests.support.processes import ServiceProcess
from tests.support.spans import batch_at, stored_batch
from tests.support.waiting import eventually

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The processes whose metrics the benchmark sends, each its own series.
METRIC_INSTANCES = 64


@dataclass
class ProcessUsage:
    peak_rss_mb: float
    cpu_s: float


def usage(pid: int) -> ProcessUsage:
    status = Path(f"/proc/{pid}/status").read_text()
    peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
    return ProcessUsage(peak_kb / 1024, cpu_s)


def cpu_by_program() -> dict[str, float]:
    """CPU seconds used so far by every process on the machine, summed by program name."""
    totals: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, IndexError):
            continue
        fields = rest.split()
        totals[name] = totals.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return totals


def own_cpu_s() -> float:
    """CPU seconds this process (the load client) has used so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


# The servers' programs, as /proc names them.
SERVER_PROGRAMS = {"PostgreSQL": ("postgres",), "RabbitMQ": ("beam.smp",), "Redis": ("redis-server",)}


async def bytes_stored(pool: asyncpg.Pool) -> tuple[int, int]:
    """(table, indexes) bytes of the spans table with all its partitions or chunks."""
    row = await pool.fetchrow(
        """
        SELECT coalesce(sum(pg_table_size(c.oid)), 0) AS heap, coalesce(sum(pg_indexes_size(c.oid)), 0) AS idx
        FROM pg_class c
        WHERE c.oid = 'spans'::regclass
           OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'spans'::regclass)
        """
    )
    return int(row["heap"]), int(row["idx"])


def build_metric_requests(
    total_points: int, per_request: int, instances: int, clients: int
) -> list[list[bytes]]:
    """As SDKs export, each of `instances` in its turn: each request one point of each of an
    instance's `per_request` series (a third cumulative counters, a third cumulative histograms,
    a third gauges; 50 metric names), an instance's requests a second apart. A client sends for
    its share of the instances, one round after the other, so that no two requests of one
    instance are in flight at once, as with real exporters."""
    start = time.time_ns() - 3600 * 10**9
    rounds = max(1, total_points // (per_request * instances))
    sequences: list[list[bytes]] = [[] for _ in range(clients)]
    for round_ in range(rounds):
        at = start + (round_ + 1) * 10**9
        for instance in range(instances):
            metrics = []
            for i in range(per_request):
                name, attributes = f"bench.metric.{i % 50}", {"route": f"/r{i // 50}", "method": "GET"}
                point = number_point(round_ * 10 + i, at, start_ns=start, attributes=attributes)
                if i % 3 == 0:
                    metrics.append(counter(name, [point]))
                elif i % 3 == 1:
                    metrics.append(gauge(name, [point]))
                else:
                    counts = [round_ + 1, 2 * round_ + i % 5, round_]
                    total = 37.5 * sum(counts)
                    metrics.append(
                        histogram(name, at, start, counts, [10.0, 100.0], total, attributes=attributes)
                    )
            request = metrics_request(metrics, service="bench-shop", instance=f"bench-{instance}")
            sequences[instance % clients].append(request.SerializeToString())
    return sequences


def build_log_requests(total_records: int, per_request: int) -> list[bytes]:
    """Error records with a trace context and a few attributes, each body unique."""
    requests = []
    for n in range(total_records // per_request):
        records = [
            log_record(
                f"request {n}-{i} failed: card processor timed out",
                trace_id=os.urandom(16),
                span_id=os.urandom(8),
                attributes={"exception.type": "TimeoutError", "http.route": "/payment", "attempt": i % 3},
            )
            for i in range(per_request)
        ]
        requests.append(logs_request(records, service="bench-shop").SerializeToString())
    return requests


def build_requests(total_spans: int, per_request: int) -> list[bytes]:
    requests = []
    for _ in range(total_spans // per_request):
        now = time.time_ns()
        specs = [http_server_span(start_ns=now) for _ in range(per_request)]
        requests.append(build_request(specs, service="bench-shop").SerializeToString())
    return requests


async def post_all(urls: list[str], sequences: list[list[bytes]]) -> tuple[float, int, int]:
    """Send every request, one client a sequence (each sends its own in order, the next once the
    one before was answered), the clients spread over the ingest replicas; return (first send
    time, accepted, failed)."""
    accepted = failed = 0
    headers = {"content-type": "application/x-protobuf"}

    async def worker(client: httpx.AsyncClient, url: str, sequence: list[bytes]) -> None:
        nonlocal accepted, failed
        for body in sequence:
            for _attempt in range(5):
                response = await client.post(url, content=body, headers=headers)
                if response.status_code == 200:
                    accepted += 1
                    break
                await asyncio.sleep(float(response.headers.get("retry-after", "0.2")))
            else:
                failed += 1

    limits = httpx.Limits(max_connections=len(sequences))
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(
            *(worker(client, urls[i % len(urls)], sequence) for i, sequence in enumerate(sequences))
        )
    return started, accepted, failed


def dealt(requests: list[bytes], clients: int) -> list[list[bytes]]:
    """The requests dealt out to `clients`, as a shared queue would."""
    return [requests[i::clients] for i in range(clients)]


async def wait_committed(
    pool: asyncpg.Pool, expected: int, timeout_s: float, signal: str = "traces"
) -> float:
    """When the batches of `signal` committed held `expected` items (perf_counter)."""
    deadline = time.perf_counter() + timeout_s
    while True:
        committed = await pool.fetchval(
            "SELECT coalesce(sum(span_count), 0) FROM ingested_batches WHERE signal = $1", signal
        )
        now = time.perf_counter()
        if committed >= expected:
            return now
        if now > deadline:
            raise SystemExit(f"only {committed} of {expected} {signal} items committed after {timeout_s}s")
        await asyncio.sleep(0.05)


async def wait_drained(broker_url: str, queue: str, timeout_s: float) -> float:
    """When the detector's window queue was first seen empty (perf_counter)."""
    await eventually(lambda: depth(broker_url, queue), lambda n: n == 0, timeout_s=timeout_s, interval_s=0.2)
    return time.perf_counter()


async def raw_copy_rate(pool: asyncpg.Pool, rows: int, batch_size: int) -> float:
    """COPY rows of the same shape into a table with the same columns and indexes as spans."""
    await pool.execute("CREATE TABLE copy_probe (LIKE spans INCLUDING DEFAULTS INCLUDING INDEXES)")
    batch = batch_at(datetime.now(UTC), n=batch_size, attributes=dict(http_server_span().attributes))
    records = [span_record(s) for s in stored_batch(batch).spans]
    async with pool.acquire() as conn:
        started = time.perf_counter()
        for _ in range(rows // batch_size):
            async with conn.transaction():
                await conn.copy_records_to_table("copy_probe", records=records, columns=SPAN_COLUMNS)
        elapsed = time.perf_counter() - started
    await pool.execute("DROP TABLE copy_probe")
    return (rows // batch_size) * batch_size / elapsed


async def measure_signal(
    signal: str,
    what: str,
    urls: list[str],
    sequences: list[list[bytes]],
    args: argparse.Namespace,
    pool: asyncpg.Pool,
    processes: dict[str, ServiceProcess],
    *,
    stored_sql: str,
) -> list[str]:
    """Post one signal's requests, wait for the writer to commit them all; the report's lines:
    items/s end to end, what was stored, and CPU per item of ingest (the first replica) and the
    writer."""
    before = {name: usage(p.process.pid).cpu_s for name, p in processes.items() if p.process}
    started, accepted, failed = await post_all(urls, sequences)
    expected = accepted * args.per_request
    finished = await wait_committed(pool, expected, timeout_s=600, signal=signal)
    after = {name: usage(p.process.pid).cpu_s for name, p in processes.items() if p.process}
    stored = await pool.fetchval(stored_sql)
    lines = [
        f"{what}:",
        f"  {'requests accepted / failed':<36}{accepted:>10,} / {failed}",
        f"  {what + ' committed / stored':<36}{expected:>10,} / {stored:,}",
        f"  {'end-to-end ' + what + '/s':<36}{expected / (finished - started):>14,.0f}",
    ]
    for name in after:
        lines.append(f"  {name:<36}{(after[name] - before[name]) * 1e6 / expected:>10.1f} µs CPU/item")
    return lines


async def metric_totals(pool: asyncpg.Pool, writer: ServiceProcess, args: argparse.Namespace) -> list[str]:
    """Whether the counters' deltas add up to their last cumulative values (nothing counted twice
    or lost, however the batches were reordered), and what the writer did not store, and why."""
    rounds = max(1, args.points // (args.per_request * METRIC_INSTANCES))
    last_round = sum((rounds - 1) * 10 + i for i in range(args.per_request) if i % 3 == 0)
    expected = METRIC_INSTANCES * last_round
    total = await pool.fetchval(
        "SELECT sum(p.value) FROM metric_points p JOIN metric_series s USING (series_id) WHERE s.kind = 'sum'"
    )
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{writer.url}/metrics")).text
    dropped = re.findall(r'^aiops_writer_metric_points_dropped_total\{reason="(\w+)"\} (\S+)$', metrics, re.M)
    return [
        f"  {'counters: sum of deltas / expected':<36}{total or 0:>10,.0f} / {expected:,}",
        f"  {'not stored, by reason':<36}"
        + (", ".join(f"{reason} {float(n):,.0f}" for reason, n in dropped) or "none"),
    ]


async def run(args: argparse.Namespace) -> None:
    async with bench_platform() as platform:
        await measure(args, platform.env, platform.database_url, platform.broker_url)


async def measure(args: argparse.Namespace, env: dict[str, str], database_url: str, broker_url: str) -> None:
    services: list[ServiceProcess] = []
    try:
        print(f"building {args.spans:,} spans in requests of {args.per_request} ...", flush=True)
        requests = build_requests(args.spans, args.per_request)
        total = len(requests) * args.per_request
        # The writer and detection as processes of their own, so that each one's cost shows.
        writer = ServiceProcess(
            "detector", env | {"AIOPS_DETECTION_ENABLED": "false"}, log_name="bench-writer"
        )
        detector = ServiceProcess(
            "detector", env | {"AIOPS_SPAN_WRITER_ENABLED": "false"}, log_name="bench-detector"
        ).start()
        writer.start()
        ingests = [
            ServiceProcess("ingest", env, log_name=f"bench-ingest-{n}").start()
            for n in range(args.ingest_replicas)
        ]
        services += [writer, detector, *ingests]
        await asyncio.gather(*(s.wait_ready() for s in services))
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)

        labels = {id(writer): "writer", id(detector): "detector windows"} | {
            id(s): f"ingest {n + 1}" for n, s in enumerate(ingests)
        }
        before = {labels[id(s)]: usage(s.process.pid) for s in services if s.process}
        programs_before, client_before = cpu_by_program(), own_cpu_s()
        print(
            f"posting {len(requests):,} requests with {args.concurrency} concurrent clients"
            f" to {len(ingests)} ingest process(es) ...",
            flush=True,
        )
        urls = [f"{ingest.url}/v1/traces" for ingest in ingests]
        started, accepted, failed = await post_all(urls, dealt(requests, args.concurrency))
        sent_s = time.perf_counter() - started
        finished = await wait_committed(pool, accepted * args.per_request, timeout_s=600)
        windows_done = await wait_drained(broker_url, SPAN_DETECT_QUEUE.name, timeout_s=600)
        after = {labels[id(s)]: usage(s.process.pid) for s in services if s.process}
        client_cpu = own_cpu_s() - client_before
        programs = {name: used - programs_before.get(name, 0.0) for name, used in cpu_by_program().items()}

        other_signals: list[str] = []
        if args.points:
            print(f"posting {args.points:,} metric points ...", flush=True)
            other_signals += await measure_signal(
                "metrics",
                "metric points",
                [f"{ingest.url}/v1/metrics" for ingest in ingests],
                build_metric_requests(args.points, args.per_request, METRIC_INSTANCES, args.concurrency),
                args,
                pool,
                {"ingest": ingests[0], "writer": writer},
                stored_sql="SELECT count(*) FROM metric_points",
            )
            other_signals += await metric_totals(pool, writer, args)
        if args.records:
            print(f"posting {args.records:,} log records ...", flush=True)
            other_signals += await measure_signal(
                "logs",
                "log records",
                [f"{ingest.url}/v1/logs" for ingest in ingests],
                dealt(build_log_requests(args.records, args.per_request), args.concurrency),
                args,
                pool,
                {"ingest": ingests[0], "writer": writer},
                stored_sql="SELECT count(DISTINCT body) FROM log_records",
            )
        stored_rows = await pool.fetchval("SELECT count(*) FROM spans")
        distinct = await pool.fetchval("SELECT count(DISTINCT span_id) FROM spans")
        await pool.execute("VACUUM ANALYZE spans")
        heap_bytes, index_bytes = await bytes_stored(pool)
        for service in services:
            service.stop()
        copy_rate = await raw_copy_rate(pool, rows=min(total, 200_000), batch_size=1000)
        await pool.close()

        elapsed = finished - started
        stored = accepted * args.per_request
        rate = stored / elapsed
        print()
        print(f"ingest benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  cpus={os.cpu_count()}")
        print(f"{'spans sent':<38}{total:>14,}")
        print(f"{'requests accepted / failed':<38}{accepted:>10,} / {failed}")
        print(f"{'spans stored (rows)':<38}{stored_rows:>14,}")
        print(f"{'distinct span ids stored':<38}{distinct:>14,}")
        print(f"{'lost / doubled':<38}{stored - distinct:>10,} / {stored_rows - distinct}")
        print(f"{'time to send all requests':<38}{sent_s:>13.1f}s")
        print(f"{'first request -> last commit':<38}{elapsed:>13.1f}s")
        print(f"{'end-to-end spans/s':<38}{rate:>14,.0f}")
        print(f"{'windows merged, behind the store by':<38}{max(0.0, windows_done - finished):>13.1f}s")
        print(f"{'raw COPY rows/s (same database)':<38}{copy_rate:>14,.0f}")
        print(f"{'end-to-end / raw COPY':<38}{rate / copy_rate:>14.0%}")
        print(
            f"{'bytes stored per span (table+indexes)':<38}{(heap_bytes + index_bytes) / distinct:>10.0f}"
            f"  ({heap_bytes / distinct:.0f} + {index_bytes / distinct:.0f})"
        )
        costs = {name: after[name].cpu_s - before[name].cpu_s for name in sorted(after)}
        costs |= {
            server: sum(programs.get(p, 0.0) for p in names) for server, names in SERVER_PROGRAMS.items()
        }
        costs["load client"] = client_cpu
        print(f"cost per span, first request -> windows merged ({windows_done - started:.1f} s):")
        for name, cpu in costs.items():
            rss = f"   peak RSS {after[name].peak_rss_mb:.0f} MB" if name in after else ""
            print(f"  {name:<22}{cpu * 1e6 / stored:>8.1f} µs CPU/span  ({cpu:6.1f} s){rss}")
        print(f"  {'all':<22}{sum(costs.values()) * 1e6 / stored:>8.1f} µs CPU/span")
        print("CPU seconds during the run, by program (where else the time goes):")
        for name, used in sorted(programs.items(), key=lambda item: -item[1])[:8]:
            print(f"  {name:<32}{used:>8.1f} s  ({used / elapsed:.0%} of a core)")
        for line in other_signals:
            print(line)
    finally:
        for service in services:
            service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=400_000, help="spans to send (default 400,000)")
    parser.add_argument("--per-request", type=int, default=512, help="spans per OTLP request (default 512)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent HTTP clients (default 8)")
    parser.add_argument("--ingest-replicas", type=int, default=1, help="ingest processes (default 1)")
    parser.add_argument("--points", type=int, default=200_000, help="metric points to send after the spans")
    parser.add_argument("--records", type=int, default=200_000, help="log records to send after the spans")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
