"""OpenAPI details the generated schema cannot know by itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI


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
