"""Inventory: how many of a product are in stock. Fast and reliable, usually."""

from __future__ import annotations

import zlib
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path
from opentelemetry.sdk.trace.export import SpanExporter
from pydantic import BaseModel

from aiops_core.app import ServiceSpec, Shared
from aiops_shop.common import ShopBehaviour, create_shop_app
from aiops_shop.faults import Behaviour
from aiops_shop.settings import ShopSettings

NAME = "shop-inventory"
SKU_PATTERN = r"^[A-Za-z0-9-]{1,32}$"


class Stock(BaseModel):
    sku: str
    available: int


def create_app(
    settings: ShopSettings | None = None,
    shared: Shared | None = None,
    *,
    instance_id: str | None = None,
    span_exporter: SpanExporter | None = None,
) -> FastAPI:
    settings = settings or ShopSettings()
    router = APIRouter(tags=["inventory"])

    @router.get("/inventory/{sku}", summary="Units of a product in stock")
    async def stock(sku: Annotated[str, Path(pattern=SKU_PATTERN)], behaviour: ShopBehaviour) -> Stock:
        await behaviour.perform()
        # Stable per product, so the same SKU always reports the same stock.
        return Stock(sku=sku, available=10 + zlib.crc32(sku.encode()) % 90)

    return create_shop_app(
        service_name="inventory",
        spec_name=NAME,
        title="Demo shop: inventory",
        description="Stock levels for the demo shop. Fault injection under /simulate.",
        behaviour=Behaviour(
            median_latency_ms=8,
            failure_message="inventory database unavailable",
            natural_error_rate=settings.shop_natural_error_rate / 2,
        ),
        routers=[router],
        shared=shared or Shared(),
        instance_id=instance_id,
        span_exporter=span_exporter,
    )


SERVICE = ServiceSpec(
    name=NAME,
    default_port=8082,
    summary="demo shop: inventory (GET /inventory/{sku})",
    build=lambda shared: create_app(shared=shared),
    order=40,
)
