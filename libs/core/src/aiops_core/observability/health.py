"""Liveness and readiness.

`/livez` says the process serves requests. `/readyz` (and `/health`, its older name) pings each
dependency the service registered and answers 503 naming those that are down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

Check = Callable[[], Awaitable[None]]


class HealthChecks:
    def __init__(self, timeout_s: float = 2.0) -> None:
        self._checks: dict[str, Check] = {}
        self._timeout_s = timeout_s

    def add(self, dependency: str, check: Check) -> None:
        self._checks[dependency] = check

    async def run(self) -> dict[str, str]:
        names = list(self._checks)
        results = await asyncio.gather(*(self._run_one(self._checks[n]) for n in names))
        return dict(zip(names, results, strict=True))

    async def _run_one(self, check: Check) -> str:
        try:
            await asyncio.wait_for(check(), self._timeout_s)
        except TimeoutError:
            return f"down: no answer within {self._timeout_s:g}s"
        except Exception as exc:
            return f"down: {type(exc).__name__}: {exc}"
        return "ok"


READY_EXAMPLE = {"status": "ok", "checks": {"broker": "ok", "store": "ok"}}
NOT_READY_EXAMPLE = {
    "status": "unavailable",
    "failing": ["broker"],
    "checks": {"broker": "down: BrokerUnavailableError: connection refused", "store": "ok"},
}


def health_router(health: HealthChecks) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(
        "/livez",
        summary="The process is alive",
        responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
    )
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    async def ready() -> JSONResponse:
        checks = await health.run()
        failing = [name for name, result in checks.items() if result != "ok"]
        body: dict[str, Any] = {"status": "unavailable" if failing else "ok", "checks": checks}
        if failing:
            body["failing"] = failing
        return JSONResponse(body, status_code=503 if failing else 200)

    responses: dict[int | str, dict[str, Any]] = {
        200: {"content": {"application/json": {"example": READY_EXAMPLE}}},
        503: {
            "description": "A dependency is down",
            "content": {"application/json": {"example": NOT_READY_EXAMPLE}},
        },
    }
    router.add_api_route(
        "/readyz", ready, methods=["GET"], summary="Every dependency answers", responses=responses
    )
    router.add_api_route("/health", ready, methods=["GET"], summary="Same as /readyz", responses=responses)
    return router
