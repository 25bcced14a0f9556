"""Deploys seen in the spans, on the real PostgreSQL: the rollup job records a change when a
service's spans carry a new service.version, once however often it reads the same minutes again,
not for the first version it ever sees, and again for a version back after a while (a rollback);
old and new versions overlapping in a rolling deploy make one change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from aiops_core.models import Span
from aiops_detector.detection.repository import DetectionRepository
from aiops_detector.writer.repository import SpanRepository
from tests.support.spans import batch_of, request_span, stored_batch

T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
HISTORY = timedelta(hours=3)


def versioned(moment: datetime, version: str, service: str = "payment") -> Span:
    span = request_span(moment, service=service)
    return span.model_copy(update={"attributes": {"service.version": version}})


async def send(pool: asyncpg.Pool, spans: list[Span]) -> None:
    assert await SpanRepository(pool, partitioned=True).write_batch(stored_batch(batch_of(spans)))


async def roll_up(pool: asyncpg.Pool, until: datetime) -> None:
    assert await DetectionRepository(pool).roll_up(until, first_run_from=T0 - HISTORY)


async def changes(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            "SELECT service, kind, at, old_version, new_version, source FROM changes ORDER BY at"
        )
    )


async def test_a_new_version_is_a_change_once_and_a_rollback_another(pool: asyncpg.Pool) -> None:
    # Ten minutes of 1.4.2, then a rolling deploy: both versions for two minutes, then 1.5.0 alone.
    await send(pool, [versioned(T0 + timedelta(seconds=s), "1.4.2") for s in range(0, 600, 10)])
    await send(pool, [versioned(T0 + timedelta(seconds=s), "1.4.2") for s in range(600, 720, 10)])
    deployed = T0 + timedelta(seconds=603)
    await send(pool, [versioned(deployed + timedelta(seconds=s), "1.5.0") for s in range(0, 600, 10)])
    await send(
        pool, [versioned(T0 + timedelta(seconds=s), "other-1", service="frontend") for s in range(0, 900, 30)]
    )
    for seconds in range(300, 1200, 20):  # every 20 s, re-reading the minute in progress
        await roll_up(pool, T0 + timedelta(seconds=seconds))
    [change] = await changes(pool)
    assert change["service"] == "payment"
    assert change["kind"] == "deploy"
    assert change["source"] == "spans"
    assert (change["old_version"], change["new_version"]) == ("1.4.2", "1.5.0")
    assert change["at"] == deployed

    # Twenty minutes later, 1.4.2 is back: rolled back.
    back = T0 + timedelta(minutes=30)
    await send(pool, [versioned(back + timedelta(seconds=s), "1.4.2") for s in range(0, 120, 10)])
    await roll_up(pool, back + timedelta(minutes=3))
    found = await changes(pool)
    assert len(found) == 2
    assert (found[1]["old_version"], found[1]["new_version"], found[1]["at"]) == ("1.5.0", "1.4.2", back)


async def test_a_new_deployment_environment_is_a_config_change(pool: asyncpg.Pool) -> None:
    def in_environment(moment: datetime, environment: str, key: str) -> Span:
        span = request_span(moment, service="frontend")
        return span.model_copy(update={"attributes": {key: environment}})

    await send(
        pool,
        [
            in_environment(T0 + timedelta(seconds=s), "staging", "deployment.environment")
            for s in range(0, 300, 10)
        ],
    )
    moved = T0 + timedelta(seconds=300)
    # The newer attribute name, deployment.environment.name, is read too.
    await send(
        pool,
        [
            in_environment(moved + timedelta(seconds=s), "production", "deployment.environment.name")
            for s in range(0, 300, 10)
        ],
    )
    for seconds in range(120, 720, 30):
        await roll_up(pool, T0 + timedelta(seconds=seconds))
    [change] = await pool.fetch(
        "SELECT kind, at, summary, old_version, new_version, attributes::text FROM changes"
    )
    assert (change["kind"], change["at"]) == ("config", moved)
    assert change["summary"] == "frontend deployment.environment staging → production"
    assert (change["old_version"], change["new_version"]) == (None, None)
    assert change["attributes"] == '{"deployment.environment": "production"}'
