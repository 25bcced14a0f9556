from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest

from tests.support.processes import AiopsProcess, ServiceProcess


@pytest.fixture
def platform_env(database_url: str, broker_url: str) -> dict[str, str]:
    return {"AIOPS_DATABASE_URL": database_url, "AIOPS_BROKER_URL": broker_url}


@pytest.fixture
def processes(platform_env: dict[str, str]) -> Iterator[list[AiopsProcess]]:
    """Processes a test starts; every one still running is stopped afterwards (before the
    database and vhost they use are dropped)."""
    started: list[AiopsProcess] = []
    yield started
    for process in reversed(started):
        process.stop()


async def start_platform(
    processes: list[AiopsProcess], env: dict[str, str]
) -> tuple[ServiceProcess, ServiceProcess]:
    """Ingest and the detector, each its own process; returns (ingest, detector) once ready."""
    detector = ServiceProcess("detector", env).start()
    ingest = ServiceProcess("ingest", env).start()
    processes += [detector, ingest]
    await asyncio.gather(detector.wait_ready(), ingest.wait_ready())
    return ingest, detector


async def stored_count(database_url: str, where: str = "true") -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM spans WHERE {where}"))
    finally:
        await conn.close()
