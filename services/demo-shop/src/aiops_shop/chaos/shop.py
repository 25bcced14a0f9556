"""The demo shop's fault controls, over HTTP: every shop app serves `/simulate`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime

import httpx

from aiops_shop.chaos.scenarios import Scenario


class ShopControl:
    def __init__(self, client: httpx.AsyncClient, urls: Mapping[str, str]) -> None:
        self._client = client
        self._urls = {service: url.rstrip("/") for service, url in urls.items()}

    async def inject(self, scenario: Scenario) -> datetime:
        """Start the fault; returns when the shop confirmed it (from then on requests suffer)."""
        await self._post(scenario.target, f"/simulate/{scenario.fault}", scenario.query)
        return datetime.now(UTC)

    async def reset(self, service: str) -> datetime:
        """Stop every fault of `service`; returns when the shop confirmed it."""
        await self._post(service, "/simulate/reset")
        return datetime.now(UTC)

    async def reset_all(self) -> datetime:
        await asyncio.gather(*(self.reset(service) for service in self._urls))
        return datetime.now(UTC)

    async def _post(self, service: str, path: str, params: Mapping[str, float] | None = None) -> None:
        response = await self._client.post(f"{self._urls[service]}{path}", params=params)
        response.raise_for_status()
