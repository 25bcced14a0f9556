"""Calls to the fault controls of the fault panel's entries: `GET` the base URL of an entry's
controls (an app's `/simulate`, stock-db's `/simulate/stock-db` on inventory), `POST` its `/error`,
`/latency` and `/reset`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import httpx
from pydantic import BaseModel, Field, ValidationError

from aiops_core.errors import BadGatewayError, NotFoundError
from aiops_incidents.demo_faults.schemas import ServiceFaults
from aiops_incidents.demo_faults.urls import entry_node

log = logging.getLogger(__name__)

# Seconds an app has to answer: it answers at once unless it is down or the network is.
DEMO_SHOP_TIMEOUT_S = 5.0
NOT_CONFIGURED = "no demo shop is configured (AIOPS_DEMO_SHOP_URLS)"


class ShopUnreachableError(BadGatewayError):
    """An entry's controls did not answer, or not with its fault state."""


class _ShopFaultState(BaseModel):
    """What the fault controls answer (checked: it is passed on as this API's answer)."""

    error_rate: float = Field(ge=0, le=1)
    latency_ms: float = Field(ge=0)


class DemoShop:
    """The fault panel's entries: {name: base URL of its fault controls} (`urls.shop_controls`),
    reached with the app's shared HTTP client."""

    def __init__(self, urls: Mapping[str, str], http: httpx.AsyncClient) -> None:
        self.urls = dict(sorted(urls.items()))
        self._http = http

    async def faults(self) -> list[ServiceFaults]:
        """Every entry's faults; one that does not answer is listed as unreachable."""
        self._require_some()
        return list(await asyncio.gather(*(self._probe(s, "GET", "") for s in self.urls)))

    async def set_faults(self, service: str, *, error_rate: float, latency_ms: float) -> ServiceFaults:
        self._require(service)
        await self._call(service, "POST", "/error", {"rate": error_rate})
        return await self._call(service, "POST", "/latency", {"ms": latency_ms})

    async def reset(self) -> list[ServiceFaults]:
        """Stop every entry's faults; one that does not answer is listed as unreachable. stock-db
        is reset twice, by inventory's reset and its own: both leave it without faults."""
        self._require_some()
        return list(await asyncio.gather(*(self._probe(s, "POST", "/reset") for s in self.urls)))

    def _require_some(self) -> None:
        if not self.urls:
            raise NotFoundError(NOT_CONFIGURED)

    def _require(self, service: str) -> None:
        self._require_some()
        if service not in self.urls:
            raise NotFoundError(
                f"the demo shop has no service, instance or database {service!r}; "
                f"it has {', '.join(self.urls)}"
            )

    async def _probe(self, service: str, method: str, path: str) -> ServiceFaults:
        try:
            return await self._call(service, method, path)
        except ShopUnreachableError as exc:
            log.info("demo shop: %s", exc.message)
            return ServiceFaults(
                service=service, node=entry_node(service), error_rate=None, latency_ms=None, reachable=False
            )

    async def _call(
        self, service: str, method: str, path: str, params: Mapping[str, float] | None = None
    ) -> ServiceFaults:
        url = f"{self.urls[service]}{path}"
        try:
            response = await self._http.request(method, url, params=params)
        except httpx.HTTPError as exc:
            raise ShopUnreachableError(f"{service} ({url}) did not answer: {type(exc).__name__}") from exc
        if not response.is_success:
            raise ShopUnreachableError(f"{service} ({url}) answered {response.status_code}")
        try:
            state = _ShopFaultState.model_validate_json(response.content)
        except ValidationError as exc:
            raise ShopUnreachableError(f"{service} ({url}) did not answer with its fault state") from exc
        return ServiceFaults(
            service=service,
            node=entry_node(service),
            error_rate=state.error_rate,
            latency_ms=state.latency_ms,
            reachable=True,
        )
