from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import ServiceProcess


@pytest.fixture
def platform_env(database_url: str, broker_url: str) -> dict[str, str]:
    return {"AIOPS_DATABASE_URL": database_url, "AIOPS_BROKER_URL": broker_url}


@pytest.fixture
def services(platform_env: dict[str, str]) -> Iterator[list[ServiceProcess]]:
    """Processes a test starts; every one still running is stopped afterwards (before the
    database and vhost they use are dropped)."""
    started: list[ServiceProcess] = []
    yield started
    for service in started:
        service.stop()
