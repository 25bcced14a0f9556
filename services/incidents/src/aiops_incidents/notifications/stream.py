"""`GET /aiops/incidents/stream`: the incident notifications as server-sent events, read from
the Redis channel the outbox publishes on.

The subscription is made before the response starts (a client that gets a 200 is subscribed, and
one that cannot be served gets a 503), and it lives exactly as long as the response: it is
closed when the client goes, when the stream is told to close (`closing`), or when the server
cancels the request at the end of its graceful shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Response
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic import ValidationError
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from starlette.types import Receive, Scope, Send

from aiops_core.app import Stopping
from aiops_core.errors import DependencyUnavailableError
from aiops_core.openapi import error_responses
from aiops_incidents.dependencies import API_ERRORS, Notifications, Reader
from aiops_incidents.schemas import IncidentNotification

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0
# How often a quiet stream looks at `closing` and at the time for a keepalive.
_POLL_S = 1.0
# Unsubscribing may not hold a disconnect or a shutdown longer than this.
_CLEANUP_TIMEOUT_S = 2.0
KEEPALIVE = format_sse_event(comment="keepalive")

_EXAMPLE = (
    "event: incident\n"
    'data: {"delivery_id":null,"event":{"id":42,"at":"2026-11-28T12:00:05Z","type":"opened",'
    '"actor":"system","detail":{}},"incident":{"id":"5d0c8f7e-2a4b-4c1d-9e3f-7a6b5c4d3e2f",'
    '"status":"open","severity":"high","title":"payment POST /payment: error ratio",'
    '"fingerprint":"payment|POST /payment|error_ratio","root_cause":null,"services":["checkout","payment"],'
    '"anomaly_count":2,"started_at":"2026-11-28T12:00:00Z","opened_at":"2026-11-28T12:00:05Z",'
    '"acknowledged_at":null,"resolved_at":null,"reopened_count":0,"updated_at":"2026-11-28T12:00:05Z"},'
    '"silenced":false}\n'
    "id: 42\n"
    "\n"
    ": keepalive\n"
    "\n"
)


class _EventStreamRoute(Response):
    """The route's response class, for the OpenAPI media type only. (With EventSourceResponse
    itself, FastAPI would expect the route to be a generator and run its own stream loop.)"""

    media_type = "text/event-stream"


class _SubscriptionResponse(EventSourceResponse):
    """An event stream that closes its Redis subscription when it ends, however it ends (even
    when the body was never started, as when the client left before the headers went out)."""

    def __init__(self, pubsub: PubSub, channel: str, content: AsyncIterator[bytes]) -> None:
        # Proxies must neither cache nor buffer an event stream.
        super().__init__(content, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._pubsub = pubsub
        self._channel = channel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await _close(self._pubsub, self._channel)


async def _close(pubsub: PubSub, channel: str) -> None:
    # Shielded: it may run inside a cancelled scope (a cancelled anyio task group cancels every
    # await in it again), and must still reach Redis; bounded, so that an unreachable Redis
    # cannot hold up a disconnect or a shutdown.
    with anyio.CancelScope(shield=True):
        with anyio.move_on_after(_CLEANUP_TIMEOUT_S), contextlib.suppress(RedisError, OSError):
            await pubsub.unsubscribe(channel)
        with contextlib.suppress(RedisError, OSError):
            await pubsub.aclose()  # type: ignore[no-untyped-call]


async def _events(
    pubsub: PubSub, *, keepalive_s: float, closing: asyncio.Event | None
) -> AsyncIterator[bytes]:
    next_keepalive = time.monotonic() + keepalive_s
    while closing is None or not closing.is_set():
        wait_s = min(_POLL_S, max(0.0, next_keepalive - time.monotonic()))
        try:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=wait_s)
        except (RedisError, OSError) as exc:
            # The subscription is gone with the connection; ending lets the client reconnect.
            log.warning("incident stream lost its Redis subscription", extra={"error": str(exc)})
            return
        if message is not None and message.get("type") == "message":
            data = message["data"].decode() if isinstance(message["data"], bytes) else str(message["data"])
            try:
                event_id = IncidentNotification.model_validate_json(data).event.id
            except ValidationError as exc:
                log.error("not an incident notification on the channel", extra={"error": str(exc)})
                continue
            yield format_sse_event(data_str=data, event="incident", id=str(event_id))
            next_keepalive = time.monotonic() + keepalive_s
        elif time.monotonic() >= next_keepalive:
            # Keeps proxies from closing a quiet stream, and finds a client that has gone.
            yield KEEPALIVE
            next_keepalive = time.monotonic() + keepalive_s


def stream_router(*, keepalive_s: float = KEEPALIVE_S, closing: asyncio.Event | None = None) -> APIRouter:
    """The stream route. Set `closing` when the server begins to stop: open streams then end
    within a second, instead of holding the server until its graceful-shutdown timeout."""
    router = APIRouter(prefix="/aiops", tags=["incidents"], responses=API_ERRORS)
    responses: dict[int | str, dict[str, Any]] = {
        200: {
            "description": "A stream of `incident` events, one per timeline event; comment lines "
            "(`: keepalive`) in between.",
            "content": {"text/event-stream": {"example": _EXAMPLE}},
        },
        **error_responses(503, examples={503: "cache unavailable: Connection refused"}),
    }

    @router.get(
        "/incidents/stream",
        response_class=_EventStreamRoute,
        summary="Stream incident notifications (server-sent events)",
        description="Every incident event as it happens (opened, anomaly joined or cleared, root "
        "cause or severity changed, acknowledged, comment, resolved, reopened), as server-sent "
        "events: `event: incident`, `data:` an `IncidentNotification` as JSON (with `silenced` "
        "set when a silence holds its webhooks back), `id:` the timeline event's id. A comment "
        f"line `: keepalive` comes every {keepalive_s:g} s of quiet. Delivery is at least once "
        "and starts from the moment of connecting (nothing is replayed): drop repeats by `id`, and "
        "read the incidents API after a reconnect.",
        responses=responses,
    )
    async def incident_stream(
        notifications: Notifications, stopping: Stopping, _: Reader
    ) -> EventSourceResponse:
        pubsub = notifications.redis.pubsub()
        try:
            await pubsub.subscribe(notifications.name)
        except (RedisError, OSError) as exc:
            await _close(pubsub, notifications.name)
            raise DependencyUnavailableError("cache", str(exc)) from exc
        # Without a `closing` of its own, the stream ends when the process begins to stop.
        events = _events(pubsub, keepalive_s=keepalive_s, closing=closing or stopping)
        return _SubscriptionResponse(pubsub, notifications.name, events)

    return router
