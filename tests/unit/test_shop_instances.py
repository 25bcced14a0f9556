"""payment as two instances: each app says which instance it is (`service.instance.id`), `aiops up`
names its two payment apps payment-1 and payment-2, and the frontend calls the payment URLs it is
given in turn. The apps in process, their spans caught in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aiops_core.app import Shared
from aiops_shop import frontend, inventory, payment
from aiops_shop.frontend import payment_urls
from aiops_shop.payment import SECOND_INSTANCE, SERVICE, payment_instance_id
from aiops_shop.settings import ShopSettings
from aiops_shop.telemetry import shop_resource
from tests.support.apps import running, started
from tests.support.shop import in_memory_telemetry

# How `aiops up` (and `aiops serve`) tell the apps where everything listens.
UP = Shared(
    service_urls={
        "shop-frontend": "http://127.0.0.1:8080",
        "shop-payment": "http://127.0.0.1:8081",
        "shop-payment-2": "http://127.0.0.1:8083",
        "shop-inventory": "http://127.0.0.1:8082",
    }
)
CALM = ShopSettings(
    shop_natural_error_rate=0,
    shop_payment_url="http://payment-a, http://payment-b/",
    shop_inventory_url="http://inventory",
)


def test_aiops_up_names_its_two_payment_apps_payment_1_and_payment_2() -> None:
    assert payment_instance_id("shop-payment", UP) == "payment-1"
    assert payment_instance_id("shop-payment-2", UP) == "payment-2"
    # One payment app alone (`aiops serve shop`, a pod): the default, its host name and port.
    alone = Shared(service_urls={"shop-payment": "http://127.0.0.1:8081"})
    assert payment_instance_id("shop-payment", alone) is None


def test_the_two_payment_specs_build_two_instances_on_two_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[dict[str, Any]] = []

    def create_app(**given: Any) -> FastAPI:
        built.append(given)
        return FastAPI()

    monkeypatch.setattr(payment, "create_app", create_app)
    assert SERVICE.build is not None
    assert SECOND_INSTANCE.build is not None
    SERVICE.build(UP)
    SECOND_INSTANCE.build(UP)
    assert [(b["spec_name"], b["instance_id"]) for b in built] == [
        ("shop-payment", "payment-1"),
        ("shop-payment-2", "payment-2"),
    ]
    assert (SERVICE.default_port, SECOND_INSTANCE.default_port) == (8081, 8083)


def test_an_app_is_its_host_and_port_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    monkeypatch.setattr("socket.gethostname", lambda: "shop-7d9f")
    assert shop_resource("inventory", port=8082).attributes["service.instance.id"] == "shop-7d9f:8082"
    assert shop_resource("inventory").attributes["service.instance.id"] == "shop-7d9f"
    # OpenTelemetry's own variable names it (a pod's name, from the downward API) ...
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=pod-x,deployment.environment=demo")
    resource = shop_resource("payment", port=8081)
    assert resource.attributes["service.instance.id"] == "pod-x"
    assert resource.attributes["service.name"] == "payment"
    # ... but not over the instance the process itself names.
    assert shop_resource("payment", instance_id="payment-2").attributes["service.instance.id"] == "payment-2"


def test_the_frontend_finds_payment_s_instances() -> None:
    assert payment_urls(CALM, UP) == ["http://127.0.0.1:8081", "http://127.0.0.1:8083"]
    serve_shop = Shared(service_urls={"shop-frontend": "http://127.0.0.1:8080", "shop-payment": "http://p:1"})
    assert payment_urls(CALM, serve_shop) == ["http://p:1"]
    assert payment_urls(CALM, Shared()) == ["http://payment-a", "http://payment-b"]
    assert payment_urls(ShopSettings(), Shared()) == ["http://127.0.0.1:8081"]


class ByHost(httpx.AsyncBaseTransport):
    """Each request to the app of its host, in process."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self._transports = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transports[request.url.host].handle_async_request(request)


@asynccontextmanager
async def payment_app(instance: str, spans: list[ReadableSpan]) -> AsyncIterator[Any]:
    exporter = InMemorySpanExporter()
    try:
        async with started(
            payment.create_app(CALM, instance_id=instance, **in_memory_telemetry(exporter))
        ) as app:
            yield app
    finally:
        spans.extend(exporter.get_finished_spans())


async def test_the_frontend_calls_payment_s_instances_in_turn_and_each_says_which_it_is() -> None:
    first: list[ReadableSpan] = []
    second: list[ReadableSpan] = []
    async with AsyncExitStack() as stack:
        apps = {
            "payment-a": await stack.enter_async_context(payment_app("payment-1", first)),
            "payment-b": await stack.enter_async_context(payment_app("payment-2", second)),
            "inventory": await stack.enter_async_context(
                started(inventory.create_app(CALM, **in_memory_telemetry()))
            ),
        }
        shop = frontend.create_app(CALM, transport=ByHost(apps), **in_memory_telemetry())
        async with running(shop) as client:
            for _ in range(5):
                order = await client.post("/checkout", json={"sku": "SKU-7", "quantity": 1})
                assert order.status_code == 200, order.text

    def charges(spans: list[ReadableSpan]) -> list[ReadableSpan]:
        return [span for span in spans if span.name == "POST /payment"]

    assert (len(charges(first)), len(charges(second))) == (3, 2)
    assert {s.resource.attributes["service.instance.id"] for s in charges(first)} == {"payment-1"}
    assert {s.resource.attributes["service.instance.id"] for s in charges(second)} == {"payment-2"}
    assert {s.resource.attributes["service.name"] for s in first + second} == {"payment"}
