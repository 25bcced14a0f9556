"""Stopping a process's apps and background work: in reverse order, and a hang reported with where."""

from __future__ import annotations

import asyncio
import logging

import pytest

from aiops_core.runner import ProcessRunner
from tests.support.waiting import eventually


async def test_steps_stop_in_the_reverse_of_their_start() -> None:
    runner = ProcessRunner()
    stopped: list[str] = []
    for name in ("store", "writer", "ingest"):

        async def stop(name: str = name) -> None:
            stopped.append(name)

        runner.add_step(name, stop)
    await runner.stop_all()
    assert stopped == ["ingest", "writer", "store"]


async def test_a_step_that_hangs_is_reported_with_what_it_waits_on(caplog: pytest.LogCaptureFixture) -> None:
    runner = ProcessRunner(stuck_after_s=0.1)
    released = asyncio.Event()

    async def waits_for_a_reply_that_never_comes() -> None:
        await released.wait()

    runner.add_step("writer", waits_for_a_reply_that_never_comes)
    caplog.set_level(logging.ERROR, logger="aiops_core.runner")
    stopping = asyncio.create_task(runner.stop_all())
    stuck = await eventually(
        lambda: [r for r in caplog.records if r.getMessage().startswith("still stopping writer")],
        what="the hang reported",
    )
    assert "waits_for_a_reply_that_never_comes" in stuck[0].tasks  # type: ignore[attr-defined]
    released.set()
    await stopping
