"""The demo shop's fault controls, over HTTP: every shop app serves `/simulate` (inventory also
`/simulate/stock-db`, its database's). A service may run as several instances, each an app with
a URL of its own: instance n of a service is `<service>-<n>`, its n-th URL."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import httpx

from aiops_shop.chaos.scenarios import FaultKind, Scenario
from aiops_shop.common import CONTROLS
from aiops_shop.payment import instance_name

# Each service's URLs, one an instance, in instance order; a service with one instance may give
# its URL alone.
ShopUrls = Mapping[str, str | Sequence[str]]


def _listed(urls: str | Sequence[str]) -> list[str]:
    return [urls.rstrip("/")] if isinstance(urls, str) else [url.rstrip("/") for url in urls]


class UnreachableError(LookupError):
    """A scenario's fault goes to an app whose URL was not given."""


def urls_of(scenario: Scenario, urls: ShopUrls) -> list[str]:
    """The apps the scenario's fault goes to: every instance of its service, or its one instance."""
    service_urls = _listed(urls.get(scenario.target, ()))
    if not service_urls:
        raise UnreachableError(f"{scenario.name} needs the URL of {scenario.target}")
    if scenario.instance is None:
        return service_urls
    by_instance = {instance_name(scenario.target, n): url for n, url in enumerate(service_urls, start=1)}
    if scenario.instance not in by_instance:
        raise UnreachableError(
            f"{scenario.name} needs the URL of {scenario.instance}: give {scenario.target} one URL "
            f"per instance, comma-separated (it has {len(service_urls)})"
        )
    return [by_instance[scenario.instance]]


class ShopControl:
    def __init__(self, client: httpx.AsyncClient, urls: ShopUrls) -> None:
        self._client = client
        self._urls = {service: _listed(service_urls) for service, service_urls in urls.items()}

    async def inject(self, scenario: Scenario) -> datetime:
        """Start the fault; returns when the shop confirmed it (from then on requests suffer)."""
        path = f"{scenario.controls}/{scenario.fault}"
        await self._post_all(urls_of(scenario, self._urls), path, scenario.query)
        return datetime.now(UTC)

    async def first_failure(self, scenario: Scenario) -> datetime | None:
        """When a request first failed of the scenario's fault, for a fault whose app says (a
        leak: when its pool first had no connection to give); None otherwise or not yet."""
        if scenario.fault is not FaultKind.LEAK:
            return None
        failures = []
        for url in urls_of(scenario, self._urls):
            response = await self._client.get(f"{url}{scenario.controls}/{scenario.fault}")
            response.raise_for_status()
            if at := response.json().get("first_exhausted_at"):
                failures.append(datetime.fromisoformat(at))
        return min(failures, default=None)

    async def reset(self, scenario: Scenario) -> datetime:
        """Stop the scenario's fault where it was injected; returns when the shop confirmed it."""
        await self._post_all(urls_of(scenario, self._urls), f"{scenario.controls}/reset")
        return datetime.now(UTC)

    async def reset_all(self) -> datetime:
        """Stop every fault of every app (an app's reset includes its database's)."""
        everywhere = [url for service_urls in self._urls.values() for url in service_urls]
        await self._post_all(everywhere, f"{CONTROLS}/reset")
        return datetime.now(UTC)

    async def _post_all(
        self, urls: Sequence[str], path: str, params: Mapping[str, float | str] | None = None
    ) -> None:
        await asyncio.gather(*(self._post(f"{url}{path}", params) for url in urls))

    async def _post(self, url: str, params: Mapping[str, float | str] | None) -> None:
        response = await self._client.post(url, params=params)
        response.raise_for_status()
