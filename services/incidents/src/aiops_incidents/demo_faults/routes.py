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
        summary="The faults each app of the demo shop, and inventory's database, inject now",
        description="One entry per app of the demo shop, named by its service, or by its instance "
        "when a service runs several (payment-1 and payment-2 in `aiops up`); and stock-db, "
        "inventory's database, whenever inventory is configured (its fault controls are "
        "inventory's, under `/simulate/stock-db`). `node` is what the service map and the "
        "incidents call it (payment for payment-2, postgresql stock-db for stock-db). 404 when "
        "no demo shop is configured (`AIOPS_DEMO_SHOP_URLS`, or the shop apps of `aiops up`). "
        "An entry that does not answer is listed with `reachable: false`.",
        responses=_NOT_CONFIGURED,
    )
    async def faults(shop: Shop, _: Reader) -> FaultPanel:
        return FaultPanel(services=await shop.faults())

    @router.delete(
        "",
        summary="Stop every fault in the demo shop",
        description="Resets every entry (inventory's reset resets stock-db too, and so does "
        "stock-db's own); answers like `GET /aiops/demo/faults`.",
        responses=_NOT_CONFIGURED,
    )
    async def reset(shop: Shop, _: Writer) -> FaultPanel:
        return FaultPanel(services=await shop.reset())

    @router.put(
        "/{service}",
        summary="Set the faults one app of the demo shop, or inventory's database, injects",
        description="Sets both the error rate and the added latency; 0 turns one off. On an "
        "instance (payment-2) the fault is that instance's alone; on stock-db, every query "
        "inventory makes to it fails or waits.",
        responses=error_responses(
            400,
            404,
            502,
            examples={
                404: "the demo shop has no service, instance or database 'billing'; it has "
                "frontend, inventory, payment-1, payment-2, stock-db"
            },
        ),
    )
    async def set_faults(
        shop: Shop,
        service: Annotated[
            StoredText,
            Path(
                max_length=256,
                description="The entry's name: a service (inventory), an instance (payment-2) or stock-db.",
                examples=["payment-2"],
            ),
        ],
        faults: FaultsIn,
        _: Writer,
    ) -> ServiceFaults:
        return await shop.set_faults(service, error_rate=faults.error_rate, latency_ms=faults.latency_ms)

    return router
