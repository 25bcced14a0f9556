"""Swagger UI served by the service itself, so the API docs work with no internet.

FastAPI's own docs page loads Swagger UI from a CDN. The `fastapi-swagger` package carries
Swagger UI's files; they are served under `/docs/assets`, and every docs page built here points
at them.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs/assets"


def install_api_docs(app: FastAPI, paths: Sequence[str] = ("/docs",)) -> None:
    """Serve Swagger UI at each of `paths`; the app must be made with `docs_url=None`."""
    app.mount(ASSETS_PATH, StaticFiles(packages=[("fastapi_swagger", "resources")]), name="docs-assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        # Behind a proxy that strips a path prefix, links must carry it again.
        root = request.scope.get("root_path", "").rstrip("/")
        assets = root + ASSETS_PATH
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} - API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
        )

    for path in paths:
        app.add_api_route(path, swagger_ui, methods=["GET"], include_in_schema=False)
