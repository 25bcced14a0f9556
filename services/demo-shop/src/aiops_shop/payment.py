"""Payment: charges a card. The slowest and flakiest of the shop's services, as payment
providers are.

`aiops up` runs payment as two instances, two apps on their own ports with their own fault
controls (`shop-payment` and `shop-payment-2`, `service.instance.id` payment-1 and payment-2), and
the frontend spreads its calls over them: one bad instance can be told from a bad service."""

from __future__ import annotations

from uuid import uuid4

from fastapi import APIRouter, FastAPI
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.trace.export import SpanExporter
from pydantic import BaseModel, Field

from aiops_core.app import ServiceSpec, Shared
from aiops_shop.common import ShopBehaviour, ShopLog, create_shop_app
from aiops_shop.faults import Behaviour
from aiops_shop.settings import ShopSettings

SERVICE_NAME = "payment"
# The apps of payment's instances, in instance order: "shop-payment" is payment-1.
INSTANCE_SPECS = ("shop-payment", "shop-payment-2")


def instance_name(service: str, number: int) -> str:
    """How the shop names the n-th (from 1) instance of a service it runs more than once."""
    return f"{service}-{number}"


class PaymentRequest(BaseModel):
    amount: float = Field(gt=0, le=1_000_000, examples=[42.5])
    card: str = Field(min_length=12, max_length=19, pattern=r"^\d+$", examples=["4111111111111111"])


class PaymentResult(BaseModel):
    payment_id: str
    status: str = "approved"


def create_app(
    settings: ShopSettings | None = None,
    shared: Shared | None = None,
    *,
    spec_name: str = INSTANCE_SPECS[0],
    instance_id: str | None = None,
    span_exporter: SpanExporter | None = None,
    metric_reader: MetricReader | None = None,
    log_exporter: LogRecordExporter | None = None,
) -> FastAPI:
    settings = settings or ShopSettings()
    router = APIRouter(tags=["payment"])

    @router.post("/payment", summary="Charge a card")
    async def pay(payment: PaymentRequest, behaviour: ShopBehaviour, log: ShopLog) -> PaymentResult:
        await behaviour.perform(log)
        return PaymentResult(payment_id=uuid4().hex)

    return create_shop_app(
        service_name=SERVICE_NAME,
        spec_name=spec_name,
        title="Demo shop: payment",
        description="Charges cards for the demo shop. Fault injection under /simulate.",
        behaviour=Behaviour(
            median_latency_ms=40,
            failure_message="card processor timed out",
            natural_error_rate=settings.shop_natural_error_rate,
        ),
        routers=[router],
        shared=shared or Shared(),
        instance_id=instance_id,
        span_exporter=span_exporter,
        metric_reader=metric_reader,
        log_exporter=log_exporter,
    )


def payment_instance_id(spec_name: str, shared: Shared) -> str | None:
    """payment-1 or payment-2 when the process runs both payment apps (`aiops up`); otherwise
    None: an app alone is its host name and port, like any shop app."""
    if not all(name in shared.service_urls for name in INSTANCE_SPECS):
        return None
    return instance_name(SERVICE_NAME, INSTANCE_SPECS.index(spec_name) + 1)


def _spec(spec_name: str, default_port: int, summary: str) -> ServiceSpec:
    return ServiceSpec(
        name=spec_name,
        default_port=default_port,
        summary=summary,
        build=lambda shared: create_app(
            shared=shared, spec_name=spec_name, instance_id=payment_instance_id(spec_name, shared)
        ),
        order=40,
    )


SERVICE = _spec(INSTANCE_SPECS[0], 8081, "demo shop: payment (POST /payment)")
SECOND_INSTANCE = _spec(INSTANCE_SPECS[1], 8083, "demo shop: payment's second instance (POST /payment)")
