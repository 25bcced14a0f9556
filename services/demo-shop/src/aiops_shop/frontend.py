"""Frontend: `POST /checkout` checks stock with inventory, then charges payment. A failure
downstream becomes a 502 here, which is what makes root cause interesting: the frontend
suffers, payment is to blame. When payment runs as several instances, the frontend calls them in
turn (round robin)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated
from uuid import uuid4

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.trace.export import SpanExporter
from pydantic import BaseModel, Field

from aiops_core.app import ServiceSpec, Shared
from aiops_core.components import Component
from aiops_core.errors import BadGatewayError, ConflictError
from aiops_shop.common import ShopBehaviour, ShopLog, create_shop_app
from aiops_shop.faults import Behaviour
from aiops_shop.inventory import NAME as INVENTORY_SPEC
from aiops_shop.inventory import SKU_PATTERN
from aiops_shop.loadgen import LoadGenerator
from aiops_shop.payment import INSTANCE_SPECS as PAYMENT_SPECS
from aiops_shop.settings import ShopSettings, split_urls
from aiops_shop.telemetry import ShopTelemetry, record_failure

NAME = "shop-frontend"
UNIT_PRICE = 19.99


class DownstreamError(BadGatewayError):
    """A service the frontend calls failed (its name is in the spans' error messages)."""


class CheckoutRequest(BaseModel):
    sku: str = Field(pattern=SKU_PATTERN, examples=["SKU-7"])
    quantity: int = Field(default=1, ge=1, le=100)
    card: str = Field(default="4111111111111111", min_length=12, max_length=19, pattern=r"^\d+$")


def get_client(request: Request) -> httpx.AsyncClient:
    """The frontend's client for inventory and payment, traced."""
    client: httpx.AsyncClient = request.state.client
    return client


Client = Annotated[httpx.AsyncClient, Depends(get_client)]


class Order(BaseModel):
    order_id: str
    sku: str
    quantity: int
    amount: float
    payment_id: str


def payment_urls(settings: ShopSettings, shared: Shared) -> list[str]:
    """payment's instances: the payment apps running in the same process (`aiops up` runs two,
    `aiops serve shop` one), else the setting's URLs."""
    running = [shared.service_urls[name].rstrip("/") for name in PAYMENT_SPECS if name in shared.service_urls]
    return running or split_urls(settings.shop_payment_url)


def round_robin(urls: Sequence[str]) -> Iterator[str]:
    """The URLs in turn, forever."""
    return itertools.cycle(list(urls))


def create_app(
    settings: ShopSettings | None = None,
    shared: Shared | None = None,
    *,
    instance_id: str | None = None,
    span_exporter: SpanExporter | None = None,
    metric_reader: MetricReader | None = None,
    log_exporter: LogRecordExporter | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """`transport` carries the calls to inventory and payment instead of the network (tests)."""
    settings = settings or ShopSettings()
    shared = shared or Shared()
    payments = round_robin(payment_urls(settings, shared))
    inventory_url = shared.service_urls.get(INVENTORY_SPEC, settings.shop_inventory_url)
    router = APIRouter(tags=["shop"])

    async def call(
        client: httpx.AsyncClient,
        log: logging.Logger,
        service: str,
        method: str,
        url: str,
        json: object = None,
    ) -> dict[str, object]:
        try:
            response = await client.request(method, url, json=json)
        except httpx.TransportError as exc:
            raise record_failure(
                DownstreamError(f"{service} unreachable: {type(exc).__name__}"), log
            ) from exc
        if response.status_code >= 500:
            raise record_failure(DownstreamError(f"{service} answered {response.status_code}"), log)
        body: dict[str, object] = response.json()
        return body

    @router.post("/checkout", summary="Buy a product: checks stock, then charges the card")
    async def checkout(
        order: CheckoutRequest, behaviour: ShopBehaviour, client: Client, log: ShopLog
    ) -> Order:
        await behaviour.perform(log)
        stock = await call(client, log, "inventory", "GET", f"{inventory_url}/inventory/{order.sku}")
        if int(str(stock["available"])) < order.quantity:
            raise ConflictError(f"only {stock['available']} of {order.sku} in stock")
        amount = round(order.quantity * UNIT_PRICE, 2)
        payment = await call(
            client,
            log,
            "payment",
            "POST",
            f"{next(payments)}/payment",
            json={"amount": amount, "card": order.card},
        )
        return Order(
            order_id=uuid4().hex,
            sku=order.sku,
            quantity=order.quantity,
            amount=amount,
            payment_id=str(payment["payment_id"]),
        )

    @asynccontextmanager
    async def lifespan(telemetry: ShopTelemetry) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
        async with httpx.AsyncClient(
            timeout=settings.shop_downstream_timeout_s, transport=transport
        ) as client:
            telemetry.instrument_client(client)
            yield {"client": client}

    return create_shop_app(
        service_name="frontend",
        spec_name=NAME,
        title="Demo shop: frontend",
        description="The shop's front door: POST /checkout. Fault injection under /simulate.",
        behaviour=Behaviour(
            median_latency_ms=3,
            failure_message="frontend rendering failed",
            natural_error_rate=settings.shop_natural_error_rate / 5,
        ),
        routers=[router],
        shared=shared,
        lifespan=lifespan,
        instance_id=instance_id,
        span_exporter=span_exporter,
        metric_reader=metric_reader,
        log_exporter=log_exporter,
    )


def _load_generator(shared: Shared) -> Component:
    return LoadGenerator.from_settings(shared.service_urls[NAME])


SERVICE = ServiceSpec(
    name=NAME,
    default_port=8080,
    summary="demo shop: frontend (POST /checkout)",
    build=lambda shared: create_app(shared=shared),
    order=45,
    companion=_load_generator,
)
