"""Ingest's HTTP handlers: thin, they only translate between HTTP and `IngestService`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from aiops_core.errors import PayloadTooLargeError, UnsupportedMediaTypeError
from aiops_core.openapi import error_responses
from aiops_ingest.dependencies import Ingest, require_token
from aiops_ingest.otlp import encode_response, encoding_of
from aiops_ingest.schemas import TELEMETRY_BODY_SCHEMA, TelemetryAccepted, parse_telemetry_body

_OTLP_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "An OTLP ExportTraceServiceRequest; may be gzip-compressed (Content-Encoding: gzip).",
        "content": {
            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {
                "schema": {"type": "object"},
                "example": {
                    "resourceSpans": [
                        {
                            "resource": {
                                "attributes": [{"key": "service.name", "value": {"stringValue": "payment"}}]
                            },
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
                                                {
                                                    "key": "http.request.method",
                                                    "value": {"stringValue": "POST"},
                                                },
                                                {
                                                    "key": "http.response.status_code",
                                                    "value": {"intValue": "200"},
                                                },
                                            ],
                                        }
                                    ]
                                }
                            ],
                        }
                    ]
                },
            },
        },
    }
}

_OTLP_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "ExportTraceServiceResponse, in the request's encoding; `partialSuccess` "
        "counts refused spans and says why.",
        "content": {
            "application/x-protobuf": {},
            "application/json": {
                "example": {
                    "partialSuccess": {"rejectedSpans": "1", "errorMessage": "1 refused: no start time"}
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
    503: {"description": "The broker cannot take the spans now; retry after Retry-After seconds."},
}


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

    @otlp.post(
        "/v1/traces",
        summary="Receive traces over OTLP/HTTP (protobuf or JSON)",
        response_class=Response,
        openapi_extra=_OTLP_BODY,
        responses=_OTLP_RESPONSES,
        dependencies=[Depends(require_token)],
    )
    async def export_traces(request: Request, service: Ingest) -> Response:
        encoding = encoding_of(request.headers.get("content-type"))
        body = await read_body(request, max_body_bytes)
        result = await service.accept_otlp(body, encoding, request.headers.get("content-encoding"))
        return Response(
            encode_response(result.rejected_count, result.rejection_message(), encoding),
            media_type=encoding.value,
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
            accepted=len(result.spans),
            rejected=result.rejected_count,
            message=result.rejection_message() or None,
        )

    router.include_router(otlp)
    return router
