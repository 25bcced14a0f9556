"""`GET /aiops/traces/{trace_id}`: one stored trace, for a waterfall of its spans, with its logs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from aiops_core.errors import NotFoundError
from aiops_core.openapi import error_responses
from aiops_incidents.dependencies import API_ERRORS, Reader, TraceStore
from aiops_incidents.rca.schemas import Trace, TraceLog, TraceSpan

TraceId = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-f]{32}$",
        description="32 lowercase hex digits, as in the evidence of an incident.",
        examples=["4bf92f3577b34da6a3ce929d0e0e4736"],
    ),
]


def traces_router() -> APIRouter:
    router = APIRouter(prefix="/aiops", tags=["traces"], responses=API_ERRORS)

    @router.get(
        "/traces/{trace_id}",
        summary="One stored trace: its spans by start time, and the log records sent in its context",
        responses=error_responses(
            404,
            examples={404: "no stored span or log record has the trace id 4bf92f3577b34da6a3ce929d0e0e4736"},
        ),
    )
    async def trace(traces: TraceStore, trace_id: TraceId, _: Reader) -> Trace:
        spans = await traces.trace(trace_id)
        logs = await traces.logs(trace_id)
        if not spans and not logs:
            raise NotFoundError(f"nothing stored has the trace id {trace_id}")
        return Trace(
            trace_id=trace_id,
            spans=[TraceSpan.model_validate(span) for span in spans],
            logs=[TraceLog.model_validate(log) for log in logs],
        )

    return router
