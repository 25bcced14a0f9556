"""`/aiops/demo/faults`: the fault panel's HTTP handlers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from aiops_core.openapi import error_responses
from aiops_core.validation import StoredText
from aiops_incidents.demo_faults.client import NOT_CONFIGURED
from aiops_incidents.demo_faults.schemas import FaultPanel, FaultsIn, ServiceFaults
from aiops_incidents.dependencies import API_ERRORS, Reader, Shop, Writer

_NOT_CONFIGURED = error_responses(404, examples={404: NOT_CONFIGURED})


def demo_faults_router() -> APIRouter:
    router = APIRouter(prefix="/aiops/demo/faults", tags=["demo shop"], responses=API_ERRORS)

    @router.get(
        "",
        summary="The faults each app of the demo shop injects now",
        description="404 when no demo shop is configured (`AIOPS_DEMO_SHOP_URLS`, or the shop "
        "apps of `aiops up`). An app that does not answer is listed with `reachable: false`.",
        responses=_NOT_CONFIGURED,
    )
    async def faults(shop: Shop, _: Reader) -> FaultPanel:
        return FaultPanel(services=await shop.faults())

    @router.delete(
        "",
        summary="Stop every fault in the demo shop",
        description="Resets every app; answers like `GET /aiops/demo/faults`.",
        responses=_NOT_CONFIGURED,
    )
    async def reset(shop: Shop, _: Writer) -> FaultPanel:
        return FaultPanel(services=await shop.reset())

    @router.put(
        "/{service}",
        summary="Set the faults one app of the demo shop injects",
        description="Sets both the error rate and the added latency; 0 turns one off.",
        responses=error_responses(
            400,
            404,
            502,
            examples={404: "the demo shop has no service 'billing'; it has payment, inventory"},
        ),
    )
    async def set_faults(
        shop: Shop,
        service: Annotated[
            StoredText, Path(max_length=256, description="The app's service name, e.g. payment.")
        ],
        faults: FaultsIn,
        _: Writer,
    ) -> ServiceFaults:
        return await shop.set_faults(service, error_rate=faults.error_rate, latency_ms=faults.latency_ms)

    return router
