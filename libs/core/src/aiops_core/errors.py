"""One error hierarchy and one JSON error body for every service.

Domain code raises these (never an HTTP exception); the handlers installed by
`install_error_handlers` turn them into

    {"error": {"code": "payload_too_large", "message": "...", "details": [...]}}

with the status code of the class. A retryable infrastructure failure is a 503 with
`Retry-After`, and a client over its rate limit a 429 with `Retry-After`; OTLP exporters and
well-behaved clients honour both.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

# The methods an `Allow` header may name, in the order it names them.
_ROUTABLE_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


class AiopsError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    @property
    def headers(self) -> dict[str, str]:
        return {}


class BadRequestError(AiopsError):
    status_code = 400
    code = "bad_request"


class UnauthorizedError(AiopsError):
    status_code = 401
    code = "unauthorized"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class NotFoundError(AiopsError):
    status_code = 404
    code = "not_found"


class ConflictError(AiopsError):
    status_code = 409
    code = "conflict"


class PayloadTooLargeError(AiopsError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(AiopsError):
    status_code = 415
    code = "unsupported_media_type"


class ValidationFailedError(AiopsError):
    status_code = 422
    code = "validation_error"


class RateLimitedError(AiopsError):
    """The client sent more than its share; it may send again after `retry_after_s` seconds."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class BadGatewayError(AiopsError):
    """A service this one calls on the client's behalf did not answer, or answered with an error."""

    status_code = 502
    code = "bad_gateway"


class DependencyUnavailableError(AiopsError):
    """A dependency (broker, store, cache) cannot be reached; the client should retry."""

    status_code = 503
    code = "dependency_unavailable"

    def __init__(self, dependency: str, message: str, *, retry_after_s: int = 5) -> None:
        super().__init__(f"{dependency} unavailable: {message}")
        self.dependency = dependency
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def error_response(exc: AiopsError) -> JSONResponse:
    return JSONResponse(
        error_body(exc.code, exc.message, exc.details), status_code=exc.status_code, headers=exc.headers
    )


def validation_details(errors: Any) -> list[dict[str, Any]]:
    """Pydantic errors as `{"field": "body.0.status_code", "message": ...}` entries."""
    return [
        {"field": ".".join(str(part) for part in err.get("loc", ())), "message": err.get("msg", "")}
        for err in errors
    ]


def validation_error(errors: Any) -> ValidationFailedError:
    details = validation_details(errors)
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5]) or "invalid request"
    return ValidationFailedError(summary, details=details)


async def _handle_aiops_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AiopsError)
    return error_response(exc)


async def _handle_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(validation_error(exc.errors()))


async def _handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    # Starlette's own 404/405 and friends get the same body as everything else.
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        return _method_not_allowed(request, exc)
    code = {400: "bad_request", 404: "not_found", 413: "payload_too_large"}.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


def _method_not_allowed(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """405 with `Allow` listing the methods of every route on the path: Starlette names only
    the first route's, and a path often has one route per method. Each method is tried on the
    app's routes, since a router included into the app is a route without `methods` of its own.
    A mount (static files) takes every method to its app, which names what it allows itself."""
    allowed = [method for method in _ROUTABLE_METHODS if _routed(request, method)]
    allow = ", ".join(allowed) if allowed else (exc.headers or {}).get("Allow", "")
    return JSONResponse(
        error_body("method_not_allowed", f"{request.method} is not allowed here; allowed: {allow}"),
        status_code=405,
        headers={"Allow": allow},
    )


def _routed(request: Request, method: str) -> bool:
    scope = {**request.scope, "method": method}
    return any(
        route.matches(scope)[0] is Match.FULL
        for route in request.app.router.routes
        if not isinstance(route, Mount)
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AiopsError, _handle_aiops_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorBody(BaseModel):
    """The body of every error answer: `{"error": {"code", "message", "details"?}}`."""

    error: ErrorInfo
