"""The fault panel's API against the demo shop's real apps, served on local ports: set and reset
faults of an app, of one instance of payment and of inventory's database stock-db, 404 without a
shop or for an entry it does not have, 502 when an app does not answer (or answers an error), and
a write token for changes when tokens are configured."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from aiops_incidents.auth import ApiAuth, parse_tokens
from aiops_incidents.demo_faults.client import DemoShop
from aiops_incidents.demo_faults.routes import demo_faults_router
from aiops_incidents.demo_faults.urls import shop_controls, shop_urls
from aiops_incidents.dependencies import get_demo_shop
from aiops_shop.inventory import create_app as inventory_app
from aiops_shop.payment import create_app as payment_app
from tests.support.apps import started
from tests.support.incidents_api import OPEN, api_app, api_client
from tests.support.processes import free_port
from tests.support.serving import serving
from tests.support.shop import in_memory_telemetry

FAULTS = "/aiops/demo/faults"
WRITE = {"Authorization": "Bearer s3cret"}
READ = {"Authorization": "Bearer v1ewer"}


@asynccontextmanager
async def shop_app(app: FastAPI) -> AsyncIterator[str]:
    """A shop app on a local port, its lifespan included (it keeps the fault state)."""
    async with started(app) as served, serving(served) as server:
        yield server.url


@pytest.fixture
async def shop() -> AsyncIterator[dict[str, str]]:
    async with (
        shop_app(payment_app(**in_memory_telemetry())) as payment,
        shop_app(inventory_app(**in_memory_telemetry())) as inventory,
    ):
        yield {"payment": payment, "inventory": inventory}


@asynccontextmanager
async def panel(
    apps: Mapping[str, str], auth: ApiAuth = OPEN, *, controls: Mapping[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The fault panel's API on the shop `apps` ({name: app URL}, as AIOPS_DEMO_SHOP_URLS gives
    them), or on the entries `controls` ({name: URL of its fault controls})."""
    entries = shop_controls(apps) if controls is None else controls
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=5))
        app = api_app(
            None, demo_faults_router(), auth=auth, overrides={get_demo_shop: DemoShop(entries, http)}
        )
        yield await stack.enter_async_context(api_client(app))


async def simulate(url: str, controls: str = "/simulate") -> dict[str, Any]:
    """What the app itself says it injects (with `controls="/simulate/stock-db"`, what inventory's
    app says its database injects)."""
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}{controls}")
        response.raise_for_status()
        state: dict[str, Any] = response.json()
        return state


NONE = {"error_rate": 0.0, "latency_ms": 0.0}


def state(
    service: str,
    error_rate: float | None,
    latency_ms: float | None,
    reachable: bool = True,
    *,
    node: str | None = None,
) -> dict[str, Any]:
    return {
        "service": service,
        "node": node or service,
        "error_rate": error_rate,
        "latency_ms": latency_ms,
        "reachable": reachable,
    }


def stock_db(error_rate: float | None, latency_ms: float | None, reachable: bool = True) -> dict[str, Any]:
    return state("stock-db", error_rate, latency_ms, reachable, node="postgresql stock-db")


async def test_set_then_reset_the_faults_of_the_shops_apps(shop: dict[str, str]) -> None:
    async with panel(shop) as client:
        before = await client.get(FAULTS)
        assert before.status_code == 200, before.text
        assert before.json() == {
            "services": [state("inventory", 0.0, 0.0), state("payment", 0.0, 0.0), stock_db(0.0, 0.0)]
        }

        changed = await client.put(f"{FAULTS}/payment", json={"error_rate": 0.5, "latency_ms": 250})
        assert changed.status_code == 200, changed.text
        assert changed.json() == state("payment", 0.5, 250.0)
        assert await simulate(shop["payment"]) == {"error_rate": 0.5, "latency_ms": 250.0}
        assert (await client.get(FAULTS)).json()["services"] == [
            state("inventory", 0.0, 0.0),
            state("payment", 0.5, 250.0),
            stock_db(0.0, 0.0),
        ]

        await client.put(f"{FAULTS}/inventory", json={"error_rate": 0, "latency_ms": 400})
        reset = await client.delete(FAULTS)
        assert reset.status_code == 200, reset.text
        assert reset.json() == {
            "services": [state("inventory", 0.0, 0.0), state("payment", 0.0, 0.0), stock_db(0.0, 0.0)]
        }
        assert await simulate(shop["payment"]) == await simulate(shop["inventory"]) == NONE


async def test_stock_db_is_broken_through_inventory_s_controls_and_reset_with_everything(
    shop: dict[str, str],
) -> None:
    async with panel(shop) as client:
        changed = await client.put(f"{FAULTS}/stock-db", json={"error_rate": 0.25, "latency_ms": 300})
        assert changed.status_code == 200, changed.text
        assert changed.json() == stock_db(0.25, 300.0)
        # The database's fault, not inventory's own.
        assert await simulate(shop["inventory"], "/simulate/stock-db") == {
            "error_rate": 0.25,
            "latency_ms": 300.0,
        }
        assert await simulate(shop["inventory"]) == NONE
        assert (await client.get(FAULTS)).json()["services"][-1] == stock_db(0.25, 300.0)

        # With inventory's own fault too: the reset of all (inventory's resets stock-db as well)
        # leaves neither.
        await client.put(f"{FAULTS}/inventory", json={"error_rate": 0.1, "latency_ms": 0})
        assert await simulate(shop["inventory"]) == {"error_rate": 0.1, "latency_ms": 0.0}
        reset = await client.delete(FAULTS)
        assert reset.status_code == 200, reset.text
        assert reset.json()["services"] == [
            state("inventory", 0.0, 0.0),
            state("payment", 0.0, 0.0),
            stock_db(0.0, 0.0),
        ]
        assert await simulate(shop["inventory"], "/simulate/stock-db") == NONE
        assert await simulate(shop["inventory"]) == NONE


async def test_payment_s_instances_are_named_by_instance_and_broken_one_at_a_time() -> None:
    """Both payment apps, as `aiops up` runs them (shop-payment and shop-payment-2): the entries
    are payment-1 and payment-2, and a fault goes to the one named."""
    async with (
        shop_app(payment_app(instance_id="payment-1", **in_memory_telemetry())) as payment_1,
        shop_app(
            payment_app(spec_name="shop-payment-2", instance_id="payment-2", **in_memory_telemetry())
        ) as payment_2,
        shop_app(inventory_app(**in_memory_telemetry())) as inventory,
    ):
        running = {"shop-payment": payment_1, "shop-payment-2": payment_2, "shop-inventory": inventory}
        async with panel({}, controls=shop_urls("", running)) as client:
            listed = await client.get(FAULTS)
            assert listed.status_code == 200, listed.text
            assert listed.json()["services"] == [
                state("inventory", 0.0, 0.0),
                state("payment-1", 0.0, 0.0, node="payment"),
                state("payment-2", 0.0, 0.0, node="payment"),
                stock_db(0.0, 0.0),
            ]

            changed = await client.put(f"{FAULTS}/payment-2", json={"error_rate": 1, "latency_ms": 0})
            assert changed.status_code == 200, changed.text
            assert changed.json() == state("payment-2", 1.0, 0.0, node="payment")
            assert await simulate(payment_2) == {"error_rate": 1.0, "latency_ms": 0.0}
            assert await simulate(payment_1) == NONE

            # payment alone is no entry when it runs as instances.
            missing = await client.put(f"{FAULTS}/payment", json={"error_rate": 1, "latency_ms": 0})
            assert missing.status_code == 404
            assert missing.json()["error"]["message"] == (
                "the demo shop has no service, instance or database 'payment'; "
                "it has inventory, payment-1, payment-2, stock-db"
            )

            assert (await client.delete(FAULTS)).status_code == 200
            assert await simulate(payment_2) == await simulate(payment_1) == NONE

        # The same shop as AIOPS_DEMO_SHOP_URLS gives it: the same entries.
        setting = f"payment-1={payment_1},payment-2={payment_2},inventory={inventory}"
        async with panel({}, controls=shop_urls(setting, {})) as client:
            names = [(s["service"], s["node"]) for s in (await client.get(FAULTS)).json()["services"]]
            assert names == [
                ("inventory", "inventory"),
                ("payment-1", "payment"),
                ("payment-2", "payment"),
                ("stock-db", "postgresql stock-db"),
            ]


async def test_without_a_demo_shop_every_route_is_a_404_saying_so() -> None:
    async with panel({}) as client:
        responses = [
            await client.get(FAULTS),
            await client.put(f"{FAULTS}/payment", json={"error_rate": 0.5, "latency_ms": 0}),
            await client.delete(FAULTS),
        ]
    for response in responses:
        assert response.status_code == 404
        assert response.json()["error"] == {
            "code": "not_found",
            "message": "no demo shop is configured (AIOPS_DEMO_SHOP_URLS)",
        }


async def test_a_service_the_shop_does_not_have_is_a_404(shop: dict[str, str]) -> None:
    async with panel(shop) as client:
        response = await client.put(f"{FAULTS}/checkout", json={"error_rate": 0.5, "latency_ms": 0})
    assert response.status_code == 404
    assert response.json()["error"]["message"] == (
        "the demo shop has no service, instance or database 'checkout'; it has inventory, payment, stock-db"
    )


async def test_an_app_that_does_not_answer_is_unreachable_and_changing_it_a_502(shop: dict[str, str]) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    async with panel({**shop, "frontend": nobody}) as client:
        listed = await client.get(FAULTS)
        assert listed.status_code == 200
        assert listed.json()["services"] == [
            state("frontend", None, None, reachable=False),
            state("inventory", 0.0, 0.0),
            state("payment", 0.0, 0.0),
            stock_db(0.0, 0.0),
        ]
        changed = await client.put(f"{FAULTS}/frontend", json={"error_rate": 1, "latency_ms": 0})
        assert changed.status_code == 502
        error = changed.json()["error"]
        assert error["code"] == "bad_gateway"
        assert error["message"].startswith(f"frontend ({nobody}/simulate/error) did not answer: ")

        await client.put(f"{FAULTS}/payment", json={"error_rate": 1, "latency_ms": 0})
        reset = await client.delete(FAULTS)
        assert reset.status_code == 200
        assert reset.json()["services"][0] == state("frontend", None, None, reachable=False)
        assert await simulate(shop["payment"]) == NONE


async def test_stock_db_is_unreachable_with_inventory() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    async with panel({"inventory": nobody}) as client:
        listed = await client.get(FAULTS)
        assert listed.json()["services"] == [
            state("inventory", None, None, reachable=False),
            stock_db(None, None, reachable=False),
        ]
        changed = await client.put(f"{FAULTS}/stock-db", json={"error_rate": 1, "latency_ms": 0})
        assert changed.status_code == 502
        assert changed.json()["error"]["message"].startswith(
            f"stock-db ({nobody}/simulate/stock-db/error) did not answer: "
        )


async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    await PlainTextResponse("upstream trouble", status_code=503)(scope, receive, send)


async def test_an_app_answering_an_error_is_a_502() -> None:
    async with serving(failing_app) as broken, panel({"payment": broken.url}) as client:
        changed = await client.put(f"{FAULTS}/payment", json={"error_rate": 1, "latency_ms": 0})
        assert changed.status_code == 502
        assert changed.json()["error"] == {
            "code": "bad_gateway",
            "message": f"payment ({broken.url}/simulate/error) answered 503",
        }
        listed = await client.get(FAULTS)
        assert listed.json()["services"] == [state("payment", None, None, reachable=False)]


async def test_changes_need_a_write_token_when_tokens_are_configured(shop: dict[str, str]) -> None:
    auth = ApiAuth(parse_tokens(["ops:s3cret:write", "viewer:v1ewer:read"]), read_requires_token=False)
    body = {"error_rate": 0.2, "latency_ms": 0}
    async with panel(shop, auth) as client:
        assert (await client.get(FAULTS)).status_code == 200
        anonymous = await client.put(f"{FAULTS}/payment", json=body)
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["code"] == "unauthorized"
        reader = await client.put(f"{FAULTS}/payment", json=body, headers=READ)
        assert reader.status_code == 403
        assert reader.json()["error"]["code"] == "forbidden"
        assert (await client.delete(FAULTS, headers=READ)).status_code == 403
        assert await simulate(shop["payment"]) == NONE

        writer = await client.put(f"{FAULTS}/payment", json=body, headers=WRITE)
        assert writer.status_code == 200
        assert (await client.delete(FAULTS, headers=WRITE)).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"error_rate": 1.5, "latency_ms": 0}, "body.error_rate"),
        ({"error_rate": -0.1, "latency_ms": 0}, "body.error_rate"),
        ({"error_rate": 0.5, "latency_ms": 60_001}, "body.latency_ms"),
        ({"error_rate": 0.5}, "body.latency_ms"),
        ({"latency_ms": 10}, "body.error_rate"),
    ],
)
async def test_faults_out_of_bounds_are_a_422(shop: dict[str, str], body: dict[str, Any], field: str) -> None:
    async with panel(shop) as client:
        response = await client.put(f"{FAULTS}/payment", json=body)
    assert response.status_code == 422
    assert field in response.json()["error"]["message"]
    assert await simulate(shop["payment"]) == NONE
