"""Silences: while one is in force, an incident whose root cause matches every one of its
non-null matchers (service, operation, kind) sends no webhook. The events still reach the
timeline, the Redis channel and the stream, marked `silenced`.

The SQL of silences lives here, and so does their API (`/aiops/silences`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

import asyncpg
from asyncpg import Record
from fastapi import APIRouter, Body, Query, Request, status

from aiops_core.errors import ERROR_RESPONSE_SCHEMA, NotFoundError, ValidationFailedError, error_body
from aiops_core.models import AnomalyKind
from aiops_core.store.pool import Connection
from aiops_incidents.auth import Reader, Writer
from aiops_incidents.schemas import Silence, SilenceIn

_COLUMNS = "id, service, operation, kind, starts_at, ends_at, created_by, comment, created_at"


# --- repository ------------------------------------------------------------------------------


async def create_silence(conn: Connection, silence: SilenceIn, *, created_by: str, now: datetime) -> Silence:
    starts_at = silence.starts_at or now
    if silence.ends_at <= max(starts_at, now):
        # The schema checks ends_at against a given starts_at; "now" is only known here.
        raise ValidationFailedError(
            "ends_at must be in the future: the silence would never be in force",
            details=[{"field": "body.ends_at", "message": "must be after starts_at and after now"}],
        )
    row = await conn.fetchrow(
        f"""
        INSERT INTO silences
            (id, service, operation, kind, starts_at, ends_at, created_by, comment, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING {_COLUMNS}
        """,
        uuid4(),
        silence.service,
        silence.operation,
        silence.kind.value if silence.kind else None,
        starts_at,
        silence.ends_at,
        created_by,
        silence.comment,
        now,
    )
    assert row is not None
    return _silence(row)


async def list_silences(conn: Connection, *, now: datetime, include_expired: bool) -> list[Silence]:
    """Silences in force or still to come, soonest to end first; with `include_expired`, also
    the ones that have ended. Deleted ones never."""
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM silences
        WHERE deleted_at IS NULL AND ($2 OR ends_at > $1)
        ORDER BY ends_at, id
        """,
        now,
        include_expired,
    )
    return [_silence(row) for row in rows]


async def delete_silence(conn: Connection, silence_id: UUID, *, now: datetime) -> bool:
    """Expire a silence at once; False when there is none (or it was deleted already). The row
    stays, so that what was silenced when can still be told."""
    deleted = await conn.fetchval(
        "UPDATE silences SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING id",
        silence_id,
        now,
    )
    return deleted is not None


async def silenced_incidents(conn: Connection, incident_ids: Sequence[UUID], *, now: datetime) -> set[UUID]:
    """Which of the incidents a silence in force at `now` matches, by their root cause."""
    rows = await conn.fetch(
        """
        SELECT i.id FROM incidents i
        WHERE i.id = ANY($1::uuid[]) AND EXISTS (
            SELECT 1 FROM silences s
            WHERE s.deleted_at IS NULL AND s.starts_at <= $2 AND s.ends_at > $2
              AND (s.service IS NULL OR s.service = i.root_service)
              AND (s.operation IS NULL OR s.operation = i.root_operation)
              AND (s.kind IS NULL OR s.kind = i.root_kind)
        )
        """,
        list(incident_ids),
        now,
    )
    return {row["id"] for row in rows}


def _silence(row: Record) -> Silence:
    return Silence(
        id=row["id"],
        service=row["service"],
        operation=row["operation"],
        kind=AnomalyKind(row["kind"]) if row["kind"] else None,
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        created_by=row["created_by"],
        comment=row["comment"],
        created_at=row["created_at"],
    )


# --- API -------------------------------------------------------------------------------------

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


def _error(code: str, message: str) -> dict[str, Any]:
    return {**ERROR_RESPONSE_SCHEMA, "content": {"application/json": {"example": error_body(code, message)}}}


_RATE_LIMITED = _error("rate_limited", "rate limit exceeded; retry after 1 s")


_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("unauthorized", "this route needs a bearer token with the write scope"),
    403: _error("forbidden", "token 'viewer' has the read scope; this route needs write"),
}


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


def silences_router() -> APIRouter:
    router = APIRouter(prefix="/aiops", tags=["silences"])

    @router.get(
        "/silences",
        summary="List silences",
        description="Silences in force now or starting later, soonest to end first. With "
        "`include_expired=true`, also the ones that have ended. Deleted silences are never listed.",
        responses={
            200: {"content": {"application/json": {"example": [_EXAMPLE_SILENCE]}}},
            401: _AUTH_ERRORS[401],
            422: _error("validation_error", "query.include_expired: Input should be a valid boolean"),
            429: _RATE_LIMITED,
        },
    )
    async def get_silences(
        request: Request,
        _: Reader,
        include_expired: Annotated[bool, Query(description="Also list silences that have ended.")] = False,
    ) -> list[Silence]:
        async with _pool(request).acquire() as conn:
            return await list_silences(conn, now=datetime.now(UTC), include_expired=include_expired)

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
            400: _error("bad_request", "There was an error parsing the body"),
            **_AUTH_ERRORS,
            422: _error(
                "validation_error",
                "body: Value error, a silence needs at least one matcher: service, operation or kind",
            ),
            429: _RATE_LIMITED,
        },
    )
    async def post_silence(
        request: Request,
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
        async with _pool(request).acquire() as conn:
            return await create_silence(conn, silence, created_by=actor, now=datetime.now(UTC))

    @router.delete(
        "/silences/{silence_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Delete a silence",
        description="Ends the silence at once: webhooks of matching incidents are sent again from "
        "the next notification on.",
        responses={
            **_AUTH_ERRORS,
            404: _error("not_found", "no silence 0b7f2d1e-5c3a-4e8b-9a41-2f6d8c1e7b90"),
            422: _error("validation_error", "path.silence_id: Input should be a valid UUID"),
            429: _RATE_LIMITED,
        },
    )
    async def remove_silence(request: Request, _: Writer, silence_id: UUID) -> None:
        async with _pool(request).acquire() as conn:
            if not await delete_silence(conn, silence_id, now=datetime.now(UTC)):
                raise NotFoundError(f"no silence {silence_id}")

    return router
