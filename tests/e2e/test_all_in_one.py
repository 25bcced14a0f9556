"""`aiops up` from a fresh data folder: the whole platform, the shop and its load in one
process on embedded servers. Spans are stored within a minute, Ctrl-C stops it cleanly, and a
second start finds the first one's data."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from aiops_core.store.migrations import load_migrations
from tests.e2e.conftest import learned_seconds
from tests.support.processes import AiopsProcess, free_port_offset
from tests.support.waiting import eventually

PORTS = (4318, 8000, 8001, 8080, 8081, 8082, 8083)


# No server URL reaches `aiops up`, so that it embeds them all.
SERVER_URLS = ("AIOPS_DATABASE_URL", "AIOPS_BROKER_URL", "AIOPS_REDIS_URL")


async def rows_written(detector_url: str) -> float:
    async with httpx.AsyncClient(timeout=2) as client:
        try:
            metrics = (await client.get(f"{detector_url}/metrics")).text
        except httpx.TransportError:
            return 0.0
    match = re.search(r'^aiops_writer_rows_total{table="spans"} (\S+)$', metrics, flags=re.MULTILINE)
    return float(match[1]) if match else 0.0


async def start_up(
    data_dir: Path, log_name: str, env: dict[str, str] | None = None
) -> tuple[AiopsProcess, str]:
    """`aiops up` on ports of its own; returns it and the detector's URL (the others are at the
    same offset from their default ports)."""
    offset = free_port_offset(PORTS)
    up = AiopsProcess(
        ["up", "--port-offset", str(offset), "--data-dir", str(data_dir)],
        {"AIOPS_LOG_FORMAT": "text", "AIOPS_LOADGEN_RPS": "10", **(env or {})},
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


def root_cause(incident: dict[str, Any]) -> tuple[str | None, str | None]:
    """(service, instance) of the incident's top root cause."""
    cause = incident["root_cause"] or {}
    return cause.get("service"), cause.get("instance")


def at_offset(detector_url: str, port: int) -> str:
    """The URL of the service whose default port is `port`, in the run whose detector is here."""
    offset = int(detector_url.rsplit(":", 1)[1]) - 8001
    return f"http://127.0.0.1:{port + offset}"


async def test_aiops_up_opens_an_incident_on_payment_1_and_resolves_it_after_reset(tmp_path: Path) -> None:
    """The README's first fault: payment-1, one of payment's two instances, fails every request;
    the incident names payment on payment-1."""
    # Short learning and cooldowns, so that the test takes a minute or two.
    env = {
        "AIOPS_MIN_HISTORY_S": "20",
        "AIOPS_ROLLUP_INTERVAL_S": "2",
        "AIOPS_EVALUATE_INTERVAL_S": "1",
        "AIOPS_CLEAR_AFTER_S": "5",
        "AIOPS_RESOLVE_COOLDOWN_S": "5",
        "AIOPS_RANK_INTERVAL_S": "2",
        "AIOPS_LOADGEN_RPS": "20",
    }
    data_dir = tmp_path / "aiops-data"
    up, detector_url = await start_up(data_dir, f"up-incident-{tmp_path.name}", env)
    incidents, payment = at_offset(detector_url, 8000), at_offset(detector_url, 8081)
    embedded_db = f"postgresql://postgres@/postgres?host={data_dir / 'pgdata'}"

    async def learned() -> float:
        try:
            return await learned_seconds(embedded_db, "payment", "POST /payment")
        except (OSError, asyncpg.PostgresError):  # not started, or not migrated, yet
            return 0.0

    try:
        await eventually(learned, lambda s: s >= 25, timeout_s=120, interval_s=1, what="payment learned")
        async with httpx.AsyncClient(base_url=f"{incidents}/aiops", timeout=10) as api:
            # Every service shares one process and one event loop here, on a small machine: a
            # short-lived latency incident under normal load is possible. The fault goes in on a
            # quiet platform (false alarms are measured by the benchmarks, over ten minutes).
            await eventually(
                lambda: api.get("/incidents", params={"status": "open"}),
                lambda r: r.json()["items"] == [],
                timeout_s=60,
                interval_s=1,
                what="no open incident before the fault",
            )
            (await api.post(f"{payment}/simulate/error", params={"rate": 1.0})).raise_for_status()
            opened = await eventually(
                lambda: api.get("/incidents", params={"status": "open"}),
                lambda r: bool(r.json()["items"]),
                timeout_s=30,
                interval_s=0.5,
                what="an incident opened",
            )
            incident = f"/incidents/{opened.json()['items'][0]['id']}"
            await eventually(
                lambda: api.get(incident),
                lambda r: root_cause(r.json()) == ("payment", "payment-1"),
                timeout_s=30,
                interval_s=0.5,
                what="payment, on payment-1, ranked as the root cause",
            )
            (await api.post(f"{payment}/simulate/reset")).raise_for_status()
            await eventually(
                lambda: api.get(incident),
                lambda r: r.json()["status"] == "resolved",
                timeout_s=60,
                interval_s=0.5,
                what="the incident resolved by itself",
            )
        assert up.signal(signal.SIGINT) == 0
    finally:
        up.stop()
