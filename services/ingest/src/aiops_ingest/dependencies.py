"""What ingest's routes need, each reached through one annotated dependency.

The lifespan yields a `State`; Starlette hands it to every request as `request.state`, and the
`get_*` functions here are its only readers; tests replace them with `app.dependency_overrides`.
"""

from __future__ import annotations

from typing import Annotated, TypedDict

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aiops_core.errors import UnauthorizedError
from aiops_core.ratelimit import RateLimiter
from aiops_ingest.service import IngestService
from aiops_ingest.tokens import token_accepted


class State(TypedDict):
    """What ingest's lifespan yields; requests reach it only through the dependencies below."""

    service: IngestService
    tokens: tuple[str, ...]
    rate_limiter: RateLimiter


# Coroutines, each of them: FastAPI runs a plain function dependency in a worker thread, a hand-off
# that costs more than the function on a path taken hundreds of times a second.


async def get_service(request: Request) -> IngestService:
    service: IngestService = request.state.service
    return service


async def get_tokens(request: Request) -> tuple[str, ...]:
    tokens: tuple[str, ...] = request.state.tokens
    return tokens


Ingest = Annotated[IngestService, Depends(get_service)]
_bearer = HTTPBearer(auto_error=False, description="Required when AIOPS_INGEST_TOKENS is set.")


async def require_token(
    tokens: Annotated[tuple[str, ...], Depends(get_tokens)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    if not token_accepted(credentials.credentials if credentials else "", tokens):
        raise UnauthorizedError("missing or invalid bearer token")
