"""Errors under /v1/ become google.rpc.Status messages in the request's encoding, whatever
answered them; other paths keep their bodies."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Response
from google.rpc import status_pb2

from aiops_core.errors import RateLimitedError, install_error_handlers
from aiops_ingest.otlp_errors import OtlpErrorBodies

PROTOBUF = {"content-type": "application/x-protobuf"}


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/v1/traces")
    async def traces() -> Response:
        return Response(b"accepted", media_type="application/x-protobuf")

    @app.post("/v1/limited")
    async def limited() -> None:
        raise RateLimitedError("rate limit exceeded", retry_after_s=3)

    @app.post("/v1/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    @app.get("/elsewhere")
    async def elsewhere() -> None:
        raise HTTPException(404, "no such thing")

    app.add_middleware(OtlpErrorBodies)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_a_success_passes_untouched(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/traces", headers=PROTOBUF)
    assert (response.status_code, response.content) == (200, b"accepted")


async def test_an_error_keeps_its_status_and_headers_as_a_protobuf_status(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/limited", headers=PROTOBUF)
    assert (response.status_code, response.headers["retry-after"]) == (429, "3")
    assert response.headers["content-type"] == "application/x-protobuf"
    assert int(response.headers["content-length"]) == len(response.content)
    status = status_pb2.Status.FromString(response.content)
    assert (status.code, status.message) == (8, "rate limit exceeded")


async def test_a_request_not_in_protobuf_gets_a_json_status(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/nowhere", json={})
    assert response.status_code == 404
    assert response.json() == {"code": 5, "message": "Not Found"}


async def test_a_bug_is_a_500_status(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/broken", headers=PROTOBUF)
    assert response.status_code == 500
    status = status_pb2.Status.FromString(response.content)
    assert (status.code, status.message) == (13, "internal error")


async def test_other_paths_keep_the_platform_error_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/elsewhere")
    assert response.json() == {"error": {"code": "not_found", "message": "no such thing"}}
