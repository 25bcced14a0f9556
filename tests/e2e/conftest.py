from __future__ import annotations

import asyncio

import asyncpg

from tests.support.processes import AiopsProcess, ServiceProcess


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
