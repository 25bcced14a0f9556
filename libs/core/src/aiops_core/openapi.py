"""OpenAPI details the generated schema cannot know by itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

from aiops_core.errors import ErrorBody, error_body

Responses = dict[int | str, dict[str, Any]]

# The error code and an example message of each status the services answer with.
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "There was an error parsing the body"),
    401: ("unauthorized", "this route needs a bearer token with the read scope"),
    403: ("forbidden", "token 'viewer' has the read scope; this route needs write"),
    404: ("not_found", "no incident 5d0c8f7e-2a4b-4c1d-9e3f-7a6b5c4d3e2f"),
    409: ("conflict", "the request conflicts with the current state"),
    413: ("payload_too_large", "the body is larger than 4194304 bytes"),
    415: ("unsupported_media_type", "Content-Type 'text/plain': send application/json"),
    422: ("validation_error", "query.limit: Input should be less than or equal to 200"),
    429: ("rate_limited", "rate limit of 50 requests/s (bursts of 100) exceeded; retry after 1 s"),
    502: ("bad_gateway", "payment (http://127.0.0.1:8081/simulate/error) did not answer: ConnectError"),
    503: ("dependency_unavailable", "broker unavailable: connection refused"),
}


def error_responses(*statuses: int, examples: Mapping[int, str] | None = None) -> Responses:
    """The error answers a route (or a router's routes) can give, declared one way: the platform's
    error body (`ErrorBody`) under the status' own description, with an example message; pass
    `examples` to say what a status means on this route."""
    responses: Responses = {}
    for status in statuses:
        code, message = _ERRORS[status]
        message = (examples or {}).get(status, message)
        responses[status] = {
            "model": ErrorBody,
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"example": error_body(code, message)}},
        }
    return responses


def mark_auth_optional(app: FastAPI, optional: Callable[[str], bool]) -> None:
    """Say in the schema which routes take no credentials under the running configuration (for
    example every route when no token is configured): `optional(method)` decides per operation.
    A bearer dependency that does not fail by itself is otherwise documented as required."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for path in schema.get("paths", {}).values():
                for method, operation in path.items():
                    if optional(method) and operation.get("security"):
                        # `{}` in a security list means "no credentials is fine too".
                        operation["security"] = [{}, *operation["security"]]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
