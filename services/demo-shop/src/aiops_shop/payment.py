"""Payment: charges a card. The slowest and flakiest of the shop's services, as payment
providers are."""

from __future__ import annotations

from uuid import uuid4

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from aiops_core.app import ServiceSpec, Shared
from aiops_shop.common import ShopBehaviour, create_shop_app
from aiops_shop.faults import Behaviour
from aiops_shop.settings import ShopSettings


class PaymentRequest(BaseModel):
    amount: float = Field(gt=0, le=1_000_000, examples=[42.5])
    card: str = Field(min_length=12, max_length=19, pattern=r"^\d+$", examples=["4111111111111111"])


class PaymentResult(BaseModel):
    payment_id: str
    status: str = "approved"


def create_app(settings: ShopSettings | None = None, shared: Shared | None = None) -> FastAPI:
    settings = settings or ShopSettings()
    router = APIRouter(tags=["payment"])

    @router.post("/payment", summary="Charge a card")
    async def pay(payment: PaymentRequest, behaviour: ShopBehaviour) -> PaymentResult:
        await behaviour.perform()
        return PaymentResult(payment_id=uuid4().hex)

    return create_shop_app(
        service_name="payment",
        title="Demo shop: payment",
        description="Charges cards for the demo shop. Fault injection under /simulate.",
        behaviour=Behaviour(
            median_latency_ms=40,
            failure_message="card processor timed out",
            natural_error_rate=settings.shop_natural_error_rate,
        ),
        routers=[router],
        shared=shared or Shared(),
    )


SERVICE = ServiceSpec(
    name="shop-payment",
    default_port=8081,
    summary="demo shop: payment (POST /payment)",
    build=lambda shared: create_app(shared=shared),
    order=40,
)
