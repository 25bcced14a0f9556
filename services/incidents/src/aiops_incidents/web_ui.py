"""The web UI: static files shipped in the package's `web/` folder. The page is served at `/` and
the files it loads under `/ui/`, to anyone (they hold no data); the data comes from the API,
which asks for a token where it is configured to."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

WEB_DIR = Path(__file__).resolve().with_name("web")
PAGE_PATH = "/"
ASSETS_PREFIX = "/ui"
# Browsers ask again (and get a 304 while a file is unchanged) instead of running a mix of old
# and new files after an upgrade.
_REVALIDATE = {"Cache-Control": "no-cache"}


class _RevalidatedFiles(StaticFiles):
    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(_REVALIDATE)
        return response


def install_web_ui(app: FastAPI) -> None:
    app.mount(ASSETS_PREFIX, _RevalidatedFiles(directory=WEB_DIR), name="ui")

    @app.get(PAGE_PATH, include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers=_REVALIDATE)
