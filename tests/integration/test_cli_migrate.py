import asyncio

import asyncpg
import pytest
from click.testing import CliRunner

from aiops_core.cli import main
from aiops_core.store.migrations import load_migrations


async def test_migrate_applies_then_finds_nothing_to_do(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOPS_DATABASE_URL", database_url)
    first = await asyncio.to_thread(CliRunner().invoke, main, ["migrate"])
    assert first.exit_code == 0, first.output
    names = [f"{m.version:04d}_{m.name}" for m in load_migrations()]
    assert len(names) >= 4
    assert f"applied {len(names)} migration(s): {', '.join(names)}" in first.output
    second = await asyncio.to_thread(CliRunner().invoke, main, ["migrate"])
    assert "applied 0 migration(s)" in second.output
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(names)
    finally:
        await conn.close()


def test_migrate_reports_an_unreachable_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_DATABASE_URL", "postgresql://postgres:secret@127.0.0.1:1/nowhere")
    result = CliRunner().invoke(main, ["migrate"])
    assert result.exit_code == 1
    assert "cannot migrate postgresql://postgres:***@127.0.0.1:1/nowhere" in result.output
