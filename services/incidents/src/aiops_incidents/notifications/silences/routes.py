"""`/aiops/silences`: create, list and delete silences."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Query, status

from aiops_core.errors import NotFoundError
from aiops_core.openapi import error_responses
from aiops_incidents.dependencies import API_ERRORS, Reader, SilenceStore, Writer
from aiops_incidents.schemas import Silence, SilenceIn

_EXAMPLE_SILENCE: dict[str, Any] = {
    "id": "0b7f2d1e-5c3a-4e8b-9a41-2f6d8c1e7b90",
    "service": "payment",
    "operation": "POST /payment",
    "kind": "error_ratio",
    "starts_at": "2026-11-28T12:00:00Z",
    "ends_at": "2026-11-28T14:00:00Z",
    "created_by": "ops",
    "comment": "Planned maintenance of the payment provider",
    "created_at": "2026-11-28T11:58:03Z",
}


def silences_router() -> APIRouter:
    router = APIRouter(prefix="/aiops", tags=["silences"], responses=API_ERRORS)

    @router.get(
        "/silences",
        summary="List silences",
        description="Silences in force now or starting later, soonest to end first. With "
        "`include_expired=true`, also the ones that have ended. Deleted silences are never listed.",
        responses={200: {"content": {"application/json": {"example": [_EXAMPLE_SILENCE]}}}},
    )
    async def get_silences(
        silences: SilenceStore,
        _: Reader,
        include_expired: Annotated[bool, Query(description="Also list silences that have ended.")] = False,
    ) -> list[Silence]:
        return await silences.list(now=datetime.now(UTC), include_expired=include_expired)

    @router.post(
        "/silences",
        status_code=status.HTTP_201_CREATED,
        summary="Create a silence",
        description="Hold back the webhooks of incidents whose root cause matches every matcher "
        "given (service, operation, kind; at least one), from `starts_at` (default: now) until "
        "`ends_at`. The incidents still open, appear on the timeline and on the event stream, "
        "marked `silenced`.",
        responses={
            201: {"content": {"application/json": {"example": _EXAMPLE_SILENCE}}},
            **error_responses(
                400,
                409,
                examples={
                    409: "the silence would never be in force: ends_at must be after starts_at and after now"
                },
            ),
        },
    )
    async def post_silence(
        silences: SilenceStore,
        actor: Writer,
        silence: Annotated[
            SilenceIn,
            Body(
                openapi_examples={
                    "maintenance": {
                        "summary": "Payment errors during a maintenance window",
                        "value": {
                            "service": "payment",
                            "kind": "error_ratio",
                            "starts_at": "2026-11-28T12:00:00Z",
                            "ends_at": "2026-11-28T14:00:00Z",
                            "comment": "Planned maintenance of the payment provider",
                        },
                    },
                    "one_route": {
                        "summary": "One operation, from now for an hour",
                        "value": {
                            "service": "inventory",
                            "operation": "GET /stock/{sku}",
                            "ends_at": "2026-11-28T13:00:00Z",
                        },
                    },
                }
            ),
        ],
    ) -> Silence:
        return await silences.create(silence, created_by=actor, now=datetime.now(UTC))

    @router.delete(
        "/silences/{silence_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Delete a silence",
        description="Ends the silence at once: webhooks of matching incidents are sent again from "
        "the next notification on.",
        responses=error_responses(404, examples={404: "no silence 0b7f2d1e-5c3a-4e8b-9a41-2f6d8c1e7b90"}),
    )
    async def remove_silence(silences: SilenceStore, _: Writer, silence_id: UUID) -> None:
        if not await silences.delete(silence_id, now=datetime.now(UTC)):
            raise NotFoundError(f"no silence {silence_id}")

    return router
