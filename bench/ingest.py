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
- bytes stored per span: the spans table (all its partitions) and its indexes.

    make bench-ingest                       # defaults
    .venv/bin/python bench/ingest.py --spans 400000 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
from tests.support.otlp import build_request, http_server_span
from tests.support.processes import ServiceProcess
from tests.support.spans import batch_at, stored_batch
from tests.support.waiting import eventually

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


def build_requests(total_spans: int, per_request: int) -> list[bytes]:
    requests = []
    for _ in range(total_spans // per_request):
        now = time.time_ns()
        specs = [http_server_span(start_ns=now) for _ in range(per_request)]
        requests.append(build_request(specs, service="bench-shop").SerializeToString())
    return requests


async def post_all(urls: list[str], requests: list[bytes], concurrency: int) -> tuple[float, int, int]:
    """Send every request, spreading the clients over the ingest replicas; return (first send
    time, accepted, failed)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in requests:
        queue.put_nowait(body)
    accepted = failed = 0
    headers = {"content-type": "application/x-protobuf"}

    async def worker(client: httpx.AsyncClient, url: str) -> None:
        nonlocal accepted, failed
        while not queue.empty():
            body = queue.get_nowait()
            for _attempt in range(5):
                response = await client.post(url, content=body, headers=headers)
                if response.status_code == 200:
                    accepted += 1
                    break
                await asyncio.sleep(float(response.headers.get("retry-after", "0.2")))
            else:
                failed += 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client, urls[i % len(urls)]) for i in range(concurrency)))
    return started, accepted, failed


async def wait_committed(pool: asyncpg.Pool, expected: int, timeout_s: float) -> float:
    deadline = time.perf_counter() + timeout_s
    while True:
        committed = await pool.fetchval("SELECT coalesce(sum(span_count), 0) FROM ingested_batches")
        now = time.perf_counter()
        if committed >= expected:
            return now
        if now > deadline:
            raise SystemExit(f"only {committed} of {expected} spans committed after {timeout_s}s")
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
        started, accepted, failed = await post_all(urls, requests, args.concurrency)
        sent_s = time.perf_counter() - started
        finished = await wait_committed(pool, accepted * args.per_request, timeout_s=600)
        windows_done = await wait_drained(broker_url, SPAN_DETECT_QUEUE.name, timeout_s=600)
        after = {labels[id(s)]: usage(s.process.pid) for s in services if s.process}
        client_cpu = own_cpu_s() - client_before
        programs = {name: used - programs_before.get(name, 0.0) for name, used in cpu_by_program().items()}

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
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
