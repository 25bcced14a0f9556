"""`aiops up` from a fresh data folder: the whole platform, the shop and its load in one
process on embedded servers. Spans are stored within a minute, Ctrl-C stops it cleanly, and a
second start finds the first one's data."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import asyncpg
import httpx

from aiops_core.store.migrations import load_migrations
from tests.support.processes import AiopsProcess, free_port_offset
from tests.support.waiting import eventually

PORTS = (4318, 8001, 8080, 8081, 8082)


# No server URL reaches `aiops up`, so that it embeds them all.
SERVER_URLS = ("AIOPS_DATABASE_URL", "AIOPS_BROKER_URL", "AIOPS_REDIS_URL")


async def rows_written(detector_url: str) -> float:
    async with httpx.AsyncClient(timeout=2) as client:
        try:
            metrics = (await client.get(f"{detector_url}/metrics")).text
        except httpx.TransportError:
            return 0.0
    match = re.search(r"^aiops_writer_rows_total (\S+)$", metrics, flags=re.MULTILINE)
    return float(match[1]) if match else 0.0


async def start_up(data_dir: Path, log_name: str) -> tuple[AiopsProcess, str]:
    offset = free_port_offset(PORTS)
    up = AiopsProcess(
        ["up", "--port-offset", str(offset), "--data-dir", str(data_dir)],
        {"AIOPS_LOG_FORMAT": "text", "AIOPS_LOADGEN_RPS": "10"},
        ready_url=f"http://127.0.0.1:{8001 + offset}",
        log_name=log_name,
        unset=SERVER_URLS,
    ).start()
    return up, up.ready_url


async def stored_spans(data_dir: Path) -> tuple[int, int]:
    """(spans, migrations) in the embedded database, read through its socket."""
    conn = await asyncpg.connect(f"postgresql://postgres@/postgres?host={data_dir / 'pgdata'}")
    try:
        return (
            int(await conn.fetchval("SELECT count(*) FROM spans")),
            int(await conn.fetchval("SELECT count(*) FROM schema_migrations")),
        )
    finally:
        await conn.close()


async def test_aiops_up_stores_spans_within_a_minute_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "aiops-data"
    up, detector_url = await start_up(data_dir, f"up-first-{tmp_path.name}")
    try:
        await eventually(
            lambda: rows_written(detector_url),
            lambda n: n > 0,
            timeout_s=60,
            interval_s=0.5,
            what="first span stored",
        )
        first_spans, migrations = await stored_spans(data_dir)
        assert first_spans > 0
        assert migrations == len(load_migrations())
        assert up.signal(signal.SIGINT) == 0
        log = up.log_path.read_text()
        assert "AIOps platform is up" in log
        assert log.rstrip().endswith("stopped")
        assert "Traceback" not in log
    finally:
        up.stop()

    again, detector_url = await start_up(data_dir, f"up-second-{tmp_path.name}")
    try:
        await eventually(lambda: rows_written(detector_url), lambda n: n > 0, timeout_s=60, interval_s=0.5)
        spans, migrations = await stored_spans(data_dir)
        assert spans > first_spans  # the first run's spans are still there
        assert migrations == len(load_migrations())  # and nothing was migrated twice
        assert again.signal(signal.SIGINT) == 0
    finally:
        again.stop()
