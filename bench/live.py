"""The demo shop under load on a benchmark's platform, each a separate process: what the live
benchmarks (detect_live.py, rca.py) share."""

from __future__ import annotations

import asyncpg

from tests.support.processes import AiopsProcess

FRONTEND = ("frontend", "POST /checkout")
PAYMENT = ("payment", "POST /payment")
INVENTORY = ("inventory", "GET /inventory/{sku}")
SERIES = (FRONTEND, PAYMENT, INVENTORY)


def start_loadgen(env: dict[str, str], frontend: str, rps: float, *extra: str) -> AiopsProcess:
    """Checkouts at `rps` with random arrivals, until stopped."""
    return AiopsProcess(
        ["loadgen", "--rps", str(rps), "--duration", "0", "--poisson", "--url", frontend, *extra],
        env,
        ready_url=frontend,
        log_name="bench-loadgen",
    ).start()


async def learned(pool: asyncpg.Pool, min_s: float) -> bool:
    """Whether the rollups, which baselines learn from, cover `min_s` of every shop series."""
    covered = await pool.fetch(
        """
        SELECT service, operation, extract(epoch FROM max(covered_until) - min(first_start)) AS s
        FROM series_rollups GROUP BY 1, 2
        """
    )
    seconds = {(row["service"], row["operation"]): float(row["s"]) for row in covered}
    return all(seconds.get(series, 0) >= min_s for series in SERIES)
