"""`aiops change` against the incidents API served over real HTTP on the real PostgreSQL: the
change a pipeline records is stored as it said; a refused token, an API that is not there and a
malformed attribute each end the command with a message saying so."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from click.testing import CliRunner, Result

from aiops_incidents.auth import ApiAuth, parse_tokens
from aiops_incidents.changes.command import change
from aiops_incidents.changes.routes import changes_router
from tests.support.incidents_api import api_app
from tests.support.processes import free_port
from tests.support.serving import LocalServer, serving


@pytest.fixture
async def api(pool: asyncpg.Pool) -> AsyncIterator[LocalServer]:
    auth = ApiAuth(parse_tokens(["ci:s3cret:write"]), False)
    async with serving(api_app(pool, changes_router(), auth=auth)) as server:
        yield server


async def run(*args: str) -> Result:
    """The command in a thread: it calls the API this test's event loop serves."""
    return await asyncio.to_thread(CliRunner().invoke, change, list(args))


async def test_a_deploy_recorded_from_a_pipeline_is_stored_as_it_said(api: LocalServer) -> None:
    result = await run(
        "payment",
        "--old-version=1.4.2",
        "--new-version=1.5.0",
        "--attribute=commit=9f2c1ab",
        "--at=2026-12-04T10:14:02",
        f"--api-url={api.url}",
        "--token=s3cret",
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("recorded change ")
    since = {"since": "2026-12-01T00:00:00Z"}
    async with httpx.AsyncClient() as client:
        [stored] = (await client.get(f"{api.url}/aiops/changes", params=since)).json()
    assert (stored["service"], stored["kind"], stored["source"]) == ("payment", "deploy", "api")
    assert (stored["old_version"], stored["new_version"]) == ("1.4.2", "1.5.0")
    assert stored["attributes"] == {"commit": "9f2c1ab"}
    assert stored["at"] == "2026-12-04T10:14:02Z"


async def test_a_refused_token_an_absent_api_and_a_bad_attribute_say_so(api: LocalServer) -> None:
    refused = await run("payment", f"--api-url={api.url}", "--token=nope")
    assert refused.exit_code == 1
    assert "the change was refused (401)" in refused.output
    absent = await run("payment", f"--api-url=http://127.0.0.1:{free_port()}", "--token=s3cret")
    assert absent.exit_code == 1
    assert "cannot reach" in absent.output
    malformed = await run("payment", "--attribute=commit", f"--api-url={api.url}")
    assert malformed.exit_code == 2
    assert "'commit' is not key=value" in malformed.output
