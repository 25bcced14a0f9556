"""Swagger UI from the service itself: the docs page loads nothing from the internet."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser

import httpx
from fastapi import FastAPI

from aiops_core.app import create_service_app
from aiops_core.observability.health import HealthChecks
from aiops_core.observability.metrics import create_registry


@asynccontextmanager
async def _no_clients(_: FastAPI) -> AsyncIterator[None]:
    yield


class _Links(HTMLParser):
    """Every script, stylesheet and icon a page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        url = found.get("src") if tag == "script" else found.get("href") if tag == "link" else None
        if url:
            self.urls.append(url)


async def test_each_docs_page_loads_swagger_ui_from_the_service() -> None:
    app = create_service_app(
        title="Test",
        description="",
        lifespan=_no_clients,
        health=HealthChecks(),
        registry=create_registry(),
        docs_paths=("/docs", "/api/docs"),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in ("/docs", "/api/docs"):
            page = await client.get(path)
            assert page.status_code == 200
            links = _Links()
            links.feed(page.text)
            assert sorted(links.urls) == [
                "/docs/assets/favicon-32x32.png",
                "/docs/assets/swagger-ui-bundle.js",
                "/docs/assets/swagger-ui.css",
            ]
            for url in links.urls:
                asset = await client.get(url)
                assert asset.status_code == 200, url
                assert len(asset.content) > 500, url
        assert "/docs/assets" not in (await client.get("/openapi.json")).json()["paths"]
