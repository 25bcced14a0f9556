"""compose.yaml is a valid Compose file whose services build from the Dockerfile here."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import yaml

from tests.deploy.chart import ROOT
from tests.support.tools import require_tool

PROFILES = ["--profile", "demo"]


def docker_compose(
    *args: str, profiles: list[str] = PROFILES, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            require_tool("docker-compose", "docker-compose"),
            "-f",
            str(ROOT / "compose.yaml"),
            *profiles,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
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
            assert service["build"]["dockerfile"] == "Dockerfile", name
            folder = ROOT / "services" / service["build"]["args"]["SERVICE"]
            assert (folder / "pyproject.toml").is_file(), name
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
    # Only the platform's own services hold its credentials.
    assert "AIOPS_DATABASE_URL" not in platform["shop"]["environment"]


def test_compose_runs_incidents_by_default_with_its_tokens_from_the_environment() -> None:
    secrets = {
        "AIOPS_INGEST_TOKENS": "ingest-t0ken",
        "AIOPS_API_TOKENS": "oncall:s3cret:write",
        "AIOPS_WEBHOOK_URLS": "https://user:pass@hooks.example.com/aiops",
    }
    result = docker_compose("config", profiles=[], env=secrets)
    assert result.returncode == 0, result.stderr
    services: dict[str, Any] = yaml.safe_load(result.stdout)["services"]
    # Without a profile: `config` lists every service, `up` starts those without one.
    assert {name for name, service in services.items() if "profiles" not in service} >= {
        "migrate",
        "ingest",
        "detector",
        "incidents",
    }
    assert {name for name, service in services.items() if "profiles" in service} == {"shop", "loadgen"}
    incidents = services["incidents"]
    assert incidents["image"] == "aiops-incidents:dev"
    assert incidents["build"]["dockerfile"] == "Dockerfile"
    assert incidents["build"]["args"] == {"SERVICE": "incidents"}
    assert incidents["command"] == ["serve", "incidents", "--port", "8000"]
    assert [(p["published"], p["target"]) for p in incidents["ports"]] == [(8000, 8000)]
    assert incidents["healthcheck"]["test"][-1] == "http://127.0.0.1:8000/readyz"
    assert incidents["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "rabbitmq": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    # Each token reaches only the service that checks it; everyone gets the URLs they need.
    environments = {name: services[name]["environment"] for name in ("ingest", "detector", "incidents")}
    assert environments["incidents"]["AIOPS_API_TOKENS"] == secrets["AIOPS_API_TOKENS"]
    assert environments["incidents"]["AIOPS_WEBHOOK_URLS"] == secrets["AIOPS_WEBHOOK_URLS"]
    assert environments["ingest"]["AIOPS_INGEST_TOKENS"] == secrets["AIOPS_INGEST_TOKENS"]
    holders = {"ingest": {"AIOPS_INGEST_TOKENS"}, "incidents": {"AIOPS_API_TOKENS", "AIOPS_WEBHOOK_URLS"}}
    for name, environment in environments.items():
        assert environment["AIOPS_REDIS_URL"] == "redis://redis:6379/0", name
        assert environment["AIOPS_MIGRATE_ON_START"] == "false", name
        assert set(secrets) & set(environment) == holders.get(name, set()), name
    # Ingest counts its rate limits in Redis.
    assert services["ingest"]["depends_on"]["redis"] == {"condition": "service_healthy"}
