"""Every error under `/v1/`, the OTLP paths, answered as a google.rpc.Status in the request's
encoding, as the OTLP/HTTP specification asks, whatever answered it: the handler, the router
(404 for a signal not served, 405), request validation or the rate limiter (429). Those answer
with the platform's JSON error body; this turns it into a Status on its way out, keeping the
status code and the headers that tell a client what to do (Retry-After, Allow)."""

from __future__ import annotations

import json

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aiops_ingest.otlp import Encoding, encode_status

OTLP_PREFIX = "/v1/"

# The google.rpc.Code of each HTTP status (UNKNOWN for any other).
_RPC_CODES = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    403: 7,  # PERMISSION_DENIED
    404: 5,  # NOT_FOUND
    405: 12,  # UNIMPLEMENTED
    413: 8,  # RESOURCE_EXHAUSTED
    415: 3,  # INVALID_ARGUMENT
    422: 3,  # INVALID_ARGUMENT
    429: 8,  # RESOURCE_EXHAUSTED
    500: 13,  # INTERNAL
    503: 14,  # UNAVAILABLE
}
_UNKNOWN = 2
_PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf")


class OtlpErrorBodies:
    """ASGI middleware: add it outside everything that may refuse an OTLP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(OTLP_PREFIX):
            await self.app(scope, receive, send)
            return
        media_type = Headers(scope=scope).get("content-type", "").split(";", 1)[0].strip().lower()
        encoding = Encoding.PROTOBUF if media_type in _PROTOBUF_TYPES else Encoding.JSON
        error_start: Message | None = None
        error_body = bytearray()
        started = False

        async def send_as_status(message: Message) -> None:
            nonlocal error_start, started
            started = True
            if message["type"] == "http.response.start" and message["status"] >= 400:
                error_start = message  # held until the whole error body is known
                return
            if error_start is None:
                await send(message)
                return
            error_body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                await _send_status(send, error_start, bytes(error_body), encoding)

        try:
            await self.app(scope, receive, send_as_status)
        except Exception:
            # A bug: answered here as a Status (the server's own 500 would be a plain text), then
            # raised on, so that the server logs it.
            if not started:
                start: Message = {"type": "http.response.start", "status": 500, "headers": []}
                await _send_status(send, start, b"internal error", encoding)
            raise


async def _send_status(send: Send, start: Message, body: bytes, encoding: Encoding) -> None:
    status_code: int = start["status"]
    status = encode_status(_RPC_CODES.get(status_code, _UNKNOWN), _message_of(body, status_code), encoding)
    headers = MutableHeaders(raw=list(start.get("headers", [])))
    headers["content-type"] = encoding.value
    headers["content-length"] = str(len(status))
    await send({"type": "http.response.start", "status": status_code, "headers": headers.raw})
    await send({"type": "http.response.body", "body": status})


def _message_of(body: bytes, status_code: int) -> str:
    """The message of the platform's JSON error body, or the body itself if it is some other."""
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", "replace") or f"HTTP {status_code}"
