"""Schemathesis against the OpenAPI schemas of ingest and incidents, each running as its own
process on the real servers: generated requests, valid and invalid, with and without tokens,
must get the answers the schema documents, never a 5xx, and a 4xx for what is invalid."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import AiopsProcess, ServiceProcess

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")
WRITE_TOKEN = "schema-test-write"
# Examples per operation: few in the suite; the full fuzz run sets more (SCHEMA_FUZZ_EXAMPLES=150).
EXAMPLES = os.environ.get("SCHEMA_FUZZ_EXAMPLES", "20")


def run_schemathesis(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            SCHEMATHESIS,
            "--config-file",
            str(CONFIG),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            EXAMPLES,
            "--workers",
            "1",
            "--generation-deterministic",
            "--header",
            f"Authorization: Bearer {WRITE_TOKEN}",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=3000,
    )


@pytest.mark.parametrize(
    ("service", "env"),
    [
        ("ingest", {"AIOPS_INGEST_TOKENS": WRITE_TOKEN}),
        (
            "incidents",
            {
                "AIOPS_API_TOKENS": f"ops:{WRITE_TOKEN}:write,viewer:schema-test-read:read",
                "AIOPS_API_READ_REQUIRES_TOKEN": "true",
            },
        ),
        ("incidents", {}),  # no tokens: the schema says so, and every route answers without one
    ],
    ids=["ingest", "incidents-with-tokens", "incidents-open"],
)
async def test_the_api_keeps_to_its_schema(
    service: str, env: dict[str, str], processes: list[AiopsProcess], platform_env: dict[str, str]
) -> None:
    # The rate limits are the subject of their own tests; here they would only answer 429.
    limits = {"AIOPS_API_RATE_LIMIT_PER_S": "0", "AIOPS_INGEST_RATE_LIMIT_PER_S": "0"}
    process = ServiceProcess(service, platform_env | limits | env).start()
    processes.append(process)
    await process.wait_ready()
    result = run_schemathesis(process.url)
    assert result.returncode == 0, (
        f"schemathesis found failures:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    )
