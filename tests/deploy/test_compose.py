"""compose.yaml is a valid Compose file whose services build from the Dockerfiles here."""

from __future__ import annotations

import subprocess
from typing import Any

import yaml

from tests.deploy.chart import ROOT
from tests.support.tools import require_tool

PROFILES = ["--profile", "demo", "--profile", "incidents"]


def docker_compose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            require_tool("docker-compose", "docker-compose"),
            "-f",
            str(ROOT / "compose.yaml"),
            *PROFILES,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_compose_file_is_valid() -> None:
    result = docker_compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_builds_every_image_from_its_dockerfile_and_confines_it() -> None:
    result = docker_compose("config")
    assert result.returncode == 0, result.stderr
    services: dict[str, Any] = yaml.safe_load(result.stdout)["services"]
    platform = {name: s for name, s in services.items() if str(s.get("image", "")).startswith("aiops-")}
    assert {"migrate", "ingest", "detector", "incidents", "shop", "loadgen"} == set(platform)
    for name, service in platform.items():
        if "build" in service:
            assert (ROOT / service["build"]["dockerfile"]).is_file(), name
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
    # Only the platform's own services hold its credentials.
    assert "AIOPS_DATABASE_URL" not in platform["shop"]["environment"]
