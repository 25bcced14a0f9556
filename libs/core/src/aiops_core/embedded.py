"""The embedded servers of the all-in-one mode: PostgreSQL from the `pgserver` package (its data
kept in a folder, so a second start finds the first one's spans), the in-process bus and an
in-memory Redis. Only the transports differ from production; the SQL is the same."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self._pgdata = data_dir.resolve() / "pgdata"
        self._server: Any = None

    def start(self) -> str:
        """Start PostgreSQL (initialising the folder the first time); return its URL."""
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset, as it is on servers
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import get_server

            self._pgdata.parent.mkdir(parents=True, exist_ok=True)
            self._server = get_server(self._pgdata, cleanup_mode="stop")
        return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
