"""The fault panel's API against the demo shop's real apps, served on local ports: set and reset
faults, 404 without a shop or for a service it does not have, 502 when an app does not answer
(or answers an error), and a write token for changes when tokens are configured."""

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
from aiops_incidents.dependencies import get_demo_shop
from aiops_shop.inventory import create_app as inventory_app
from aiops_shop.payment import create_app as payment_app
from tests.support.apps import started
from tests.support.incidents_api import OPEN, api_app, api_client
from tests.support.processes import free_port
from tests.support.serving import serving

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
    async with shop_app(payment_app()) as payment, shop_app(inventory_app()) as inventory:
        yield {"payment": payment, "inventory": inventory}


@asynccontextmanager
async def panel(urls: Mapping[str, str], auth: ApiAuth = OPEN) -> AsyncIterator[httpx.AsyncClient]:
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=5))
        app = api_app(None, demo_faults_router(), auth=auth, overrides={get_demo_shop: DemoShop(urls, http)})
        yield await stack.enter_async_context(api_client(app))


async def simulate(url: str) -> dict[str, Any]:
    """What the app itself says it injects."""
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}/simulate")
        response.raise_for_status()
        state: dict[str, Any] = response.json()
        return state


def state(
    service: str, error_rate: float | None, latency_ms: float | None, reachable: bool = True
) -> dict[str, Any]:
    return {"service": service, "error_rate": error_rate, "latency_ms": latency_ms, "reachable": reachable}


async def test_set_then_reset_the_faults_of_the_shops_apps(shop: dict[str, str]) -> None:
    async with panel(shop) as client:
        before = await client.get(FAULTS)
        assert before.status_code == 200, before.text
        assert before.json() == {"services": [state("inventory", 0.0, 0.0), state("payment", 0.0, 0.0)]}

        changed = await client.put(f"{FAULTS}/payment", json={"error_rate": 0.5, "latency_ms": 250})
        assert changed.status_code == 200, changed.text
        assert changed.json() == state("payment", 0.5, 250.0)
        assert await simulate(shop["payment"]) == {"error_rate": 0.5, "latency_ms": 250.0}
        assert (await client.get(FAULTS)).json()["services"] == [
            state("inventory", 0.0, 0.0),
            state("payment", 0.5, 250.0),
        ]

        await client.put(f"{FAULTS}/inventory", json={"error_rate": 0, "latency_ms": 400})
        reset = await client.delete(FAULTS)
        assert reset.status_code == 200, reset.text
        assert reset.json() == {"services": [state("inventory", 0.0, 0.0), state("payment", 0.0, 0.0)]}
        assert (
            await simulate(shop["payment"])
            == await simulate(shop["inventory"])
            == {
                "error_rate": 0.0,
                "latency_ms": 0.0,
            }
        )


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
    assert (
        response.json()["error"]["message"]
        == "the demo shop has no service 'checkout'; it has inventory, payment"
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
        assert await simulate(shop["payment"]) == {"error_rate": 0.0, "latency_ms": 0.0}


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
        assert await simulate(shop["payment"]) == {"error_rate": 0.0, "latency_ms": 0.0}

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
    assert await simulate(shop["payment"]) == {"error_rate": 0.0, "latency_ms": 0.0}
