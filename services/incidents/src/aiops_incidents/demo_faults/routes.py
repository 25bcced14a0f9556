"""`/aiops/demo/faults`: the fault panel's HTTP handlers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from aiops_core.errors import ERROR_RESPONSE_SCHEMA, error_body
from aiops_core.validation import StoredText
from aiops_incidents.auth import Reader, Writer
from aiops_incidents.demo_faults.client import DemoShop
from aiops_incidents.demo_faults.schemas import FaultPanel, FaultsIn, ServiceFaults
from aiops_incidents.routes import ERRORS

_BAD_GATEWAY: dict[int | str, dict[str, Any]] = {
    502: {
        **ERROR_RESPONSE_SCHEMA,
        "description": "The app did not answer, or answered with an error",
        "content": {
            "application/json": {
                "example": error_body(
                    "bad_gateway",
                    "payment (http://127.0.0.1:8081/simulate/error) did not answer: ConnectError",
                )
            }
        },
    }
}


def get_demo_shop(request: Request) -> DemoShop:
    shop: DemoShop = request.app.state.demo_shop
    return shop


def demo_faults_router() -> APIRouter:
    router = APIRouter(prefix="/aiops/demo/faults", tags=["demo shop"], responses=ERRORS)

    @router.get(
        "",
        summary="The faults each app of the demo shop injects now",
        description="404 when no demo shop is configured (`AIOPS_DEMO_SHOP_URLS`, or the shop "
        "apps of `aiops up`). An app that does not answer is listed with `reachable: false`.",
    )
    async def faults(request: Request, _: Reader) -> FaultPanel:
        return FaultPanel(services=await get_demo_shop(request).faults())

    @router.delete(
        "",
        summary="Stop every fault in the demo shop",
        description="Resets every app; answers like `GET /aiops/demo/faults`.",
    )
    async def reset(request: Request, _: Writer) -> FaultPanel:
        return FaultPanel(services=await get_demo_shop(request).reset())

    @router.put(
        "/{service}",
        summary="Set the faults one app of the demo shop injects",
        description="Sets both the error rate and the added latency; 0 turns one off.",
        responses=_BAD_GATEWAY,
    )
    async def set_faults(
        request: Request,
        service: Annotated[
            StoredText, Path(max_length=256, description="The app's service name, e.g. payment.")
        ],
        faults: FaultsIn,
        _: Writer,
    ) -> ServiceFaults:
        return await get_demo_shop(request).set_faults(
            service, error_rate=faults.error_rate, latency_ms=faults.latency_ms
        )

    return router
