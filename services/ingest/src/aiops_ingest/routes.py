"""Ingest's HTTP handlers: thin, they only translate between HTTP and `IngestService`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from aiops_core.errors import PayloadTooLargeError, UnsupportedMediaTypeError
from aiops_core.openapi import error_responses
from aiops_ingest.dependencies import Ingest, require_token
from aiops_ingest.otlp import LOGS, METRICS, SIGNALS, TRACES, Signal, encode_response, encoding_of
from aiops_ingest.schemas import TELEMETRY_BODY_SCHEMA, TelemetryAccepted, parse_telemetry_body
from aiops_ingest.service import IngestService

_RESOURCE = {"attributes": [{"key": "service.name", "value": {"stringValue": "payment"}}]}
# An example request of each signal, in OTLP JSON.
_EXAMPLES: dict[str, dict[str, Any]] = {
    TRACES.name: {
        "resourceSpans": [
            {
                "resource": _RESOURCE,
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "POST /payment",
                                "kind": 2,
                                "startTimeUnixNano": "1764244800000000000",
                                "endTimeUnixNano": "1764244800250000000",
                                "attributes": [
                                    {"key": "http.route", "value": {"stringValue": "/payment"}},
                                    {"key": "http.request.method", "value": {"stringValue": "POST"}},
                                    {"key": "http.response.status_code", "value": {"intValue": "200"}},
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    },
    METRICS.name: {
        "resourceMetrics": [
            {
                "resource": _RESOURCE,
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "db.client.connection.count",
                                "unit": "{connection}",
                                "sum": {
                                    "aggregationTemporality": 2,
                                    "isMonotonic": False,
                                    "dataPoints": [
                                        {
                                            "attributes": [
                                                {
                                                    "key": "db.client.connection.state",
                                                    "value": {"stringValue": "used"},
                                                }
                                            ],
                                            "timeUnixNano": "1764244800000000000",
                                            "asInt": "7",
                                        }
                                    ],
                                },
                            }
                        ]
                    }
                ],
            }
        ]
    },
    LOGS.name: {
        "resourceLogs": [
            {
                "resource": _RESOURCE,
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": "1764244800000000000",
                                "severityNumber": 17,
                                "severityText": "ERROR",
                                "body": {"stringValue": "card declined by the processor"},
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                            }
                        ]
                    }
                ],
            }
        ]
    },
}
# What a response's partial success counts, per signal.
_REFUSED = {TRACES.name: "rejectedSpans", METRICS.name: "rejectedDataPoints", LOGS.name: "rejectedLogRecords"}
_WHAT = {TRACES.name: "spans", METRICS.name: "metric data points", LOGS.name: "log records"}


def _otlp_docs(signal: Signal) -> tuple[dict[str, Any], dict[int | str, dict[str, Any]]]:
    """The OpenAPI request body and responses of the signal's OTLP/HTTP path."""
    message = signal.request.__name__
    body = {
        "requestBody": {
            "required": True,
            "description": f"An OTLP {message}; may be gzip-compressed (Content-Encoding: gzip).",
            "content": {
                "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"type": "object"}, "example": _EXAMPLES[signal.name]},
            },
        }
    }
    responses: dict[int | str, dict[str, Any]] = {
        200: {
            "description": f"{signal.response.__name__}, in the request's encoding; `partialSuccess` "
            f"counts refused {_WHAT[signal.name]} and says why.",
            "content": {
                "application/x-protobuf": {},
                "application/json": {
                    "example": {
                        "partialSuccess": {_REFUSED[signal.name]: "1", "errorMessage": "1 refused: no time"}
                    }
                },
            },
        },
        400: {
            "description": "The body does not parse. Every error here is a google.rpc.Status in the "
            "request's encoding."
        },
        401: {"description": "Missing or wrong bearer token."},
        413: {"description": "Body larger than AIOPS_MAX_BODY_BYTES, before or after decompression."},
        415: {"description": "Content-Type or Content-Encoding not supported."},
        404: {"description": "A path under /v1/ that is not served (google.rpc.Status)."},
        429: {"description": "Over this client's rate limit; retry after Retry-After."},
        503: {"description": "The broker cannot take them now; retry after Retry-After seconds."},
    }
    return body, responses


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed `max_bytes`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLargeError(f"body of {declared} bytes exceeds the limit of {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLargeError(f"body exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def ingest_router(max_body_bytes: int) -> APIRouter:
    router = APIRouter()
    # Its errors are google.rpc.Status messages: aiops_ingest.otlp_errors.
    otlp = APIRouter(tags=["OTLP"])

    for signal in SIGNALS:
        body, responses = _otlp_docs(signal)
        otlp.add_api_route(
            signal.path,
            _otlp_handler(signal, max_body_bytes),
            methods=["POST"],
            summary=f"Receive {_WHAT[signal.name]} over OTLP/HTTP (protobuf or JSON)",
            response_class=Response,
            openapi_extra=body,
            responses=responses,
            dependencies=[Depends(require_token)],
            name=f"export_{signal.name}",
        )

    @router.post(
        "/api/v1/telemetry",
        summary="Receive simple JSON request records (one object or a list)",
        tags=["telemetry"],
        status_code=202,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": TELEMETRY_BODY_SCHEMA}},
            }
        },
        responses=error_responses(400, 401, 413, 415, 422, 429, 503),
        dependencies=[Depends(require_token)],
    )
    async def telemetry(request: Request, service: Ingest) -> TelemetryAccepted:
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            raise UnsupportedMediaTypeError(f"Content-Type {media_type or '(none)'!r}: send application/json")
        records = parse_telemetry_body(await read_body(request, max_body_bytes))
        result = await service.accept_records(records)
        return TelemetryAccepted(
            accepted=len(result.items),
            rejected=result.rejected_count,
            message=result.rejection_message() or None,
        )

    router.include_router(otlp)
    return router


def _otlp_handler(
    signal: Signal, max_body_bytes: int
) -> Callable[[Request, IngestService], Awaitable[Response]]:
    async def export(request: Request, service: Ingest) -> Response:
        encoding = encoding_of(request.headers.get("content-type"))
        body = await read_body(request, max_body_bytes)
        result = await service.accept_otlp(signal, body, encoding, request.headers.get("content-encoding"))
        return Response(
            encode_response(signal, result.rejected_count, result.rejection_message(), encoding),
            media_type=encoding.value,
        )

    return export
