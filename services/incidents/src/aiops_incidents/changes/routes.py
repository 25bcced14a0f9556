"""`/aiops/changes`: record a change (a deploy, a config or feature-flag change, a scale event)
and list them. Deploys are also recorded with no integration, from a new service.version in a
service's spans (the detector's rollup)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status

from aiops_core.errors import ConflictError
from aiops_core.openapi import error_responses
from aiops_core.validation import IsoDatetime
from aiops_incidents.dependencies import API_ERRORS, ChangeStore, Reader, Writer
from aiops_incidents.schemas import Change, ChangeIn

_EXAMPLE_CHANGE: dict[str, Any] = {
    "id": "6f1c1f7a-0d8e-4c55-8a4f-0c1b9d0e2a11",
    "service": "payment",
    "kind": "deploy",
    "at": "2026-12-04T10:14:02Z",
    "summary": "payment 1.4.2 → 1.5.0",
    "old_version": "1.4.2",
    "new_version": "1.5.0",
    "source": "api",
    "attributes": {"commit": "9f2c1ab", "pipeline": "ci/482"},
    "recorded_at": "2026-12-04T10:14:03Z",
}
DEFAULT_PERIOD = timedelta(days=1)


def changes_router() -> APIRouter:
    router = APIRouter(prefix="/aiops", tags=["changes"], responses=API_ERRORS)

    @router.post(
        "/changes",
        status_code=status.HTTP_201_CREATED,
        summary="Record a change",
        description="A deploy, a config or feature-flag change, a scale event of one service, at "
        "`at` (default: now). A change to a root-cause candidate in the 15 minutes before its "
        "trouble began raises it in the ranking and shows in its evidence.",
        responses={
            201: {"content": {"application/json": {"example": _EXAMPLE_CHANGE}}},
            **error_responses(400),
        },
    )
    async def post_change(
        changes: ChangeStore,
        _: Writer,
        change: Annotated[
            ChangeIn,
            Body(
                openapi_examples={
                    "deploy": {
                        "summary": "A deploy from a CI pipeline",
                        "value": {
                            "service": "payment",
                            "kind": "deploy",
                            "old_version": "1.4.2",
                            "new_version": "1.5.0",
                            "attributes": {"commit": "9f2c1ab"},
                        },
                    },
                    "flag": {
                        "summary": "A feature flag turned on",
                        "value": {
                            "service": "frontend",
                            "kind": "feature_flag",
                            "summary": "new-checkout on",
                        },
                    },
                }
            ),
        ],
    ) -> Change:
        return await changes.create(change, now=datetime.now(UTC))

    @router.get(
        "/changes",
        summary="List changes",
        description="Changes in [since, until] (default: the last day), latest first, of one service or all.",
        responses={
            200: {"content": {"application/json": {"example": [_EXAMPLE_CHANGE]}}},
            **error_responses(409, examples={409: "since must not be after until"}),
        },
    )
    async def get_changes(
        changes: ChangeStore,
        _: Reader,
        service: Annotated[str | None, Query(max_length=256)] = None,
        since: Annotated[IsoDatetime | None, Query(description="Default: a day before until.")] = None,
        until: Annotated[IsoDatetime | None, Query(description="Default: now.")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[Change]:
        until = until or datetime.now(UTC)
        since = since or until - DEFAULT_PERIOD
        if since > until:
            raise ConflictError(
                "since must not be after until", details=[{"field": "query.since", "message": "after until"}]
            )
        return await changes.between(since, until, services=[service] if service else None, limit=limit)

    return router
