"""Process-wide logging: one JSON object a line (or plain text for a terminal)."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from aiops_core.settings import LogFormat


class TextFormatter(logging.Formatter):
    """Plain text for a terminal, with the record's extra fields appended as key=value."""

    _STANDARD = frozenset(
        {*vars(logging.LogRecord("", 0, "", 0, "", (), None)), "message", "asctime", "color_message"}
    )

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = {key: value for key, value in vars(record).items() if key not in self._STANDARD}
        if extras:
            text += "  " + " ".join(f"{key}={value}" for key, value in extras.items())
        return text


def configure_logging(level: str, fmt: LogFormat) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt is LogFormat.JSON:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aio-pika logs every reconnect attempt with a traceback; ours says it once, briefly.
    logging.getLogger("aio_pika").setLevel(logging.ERROR)
    logging.getLogger("aiormq").setLevel(logging.ERROR)
    # The embedded PostgreSQL narrates every pg_ctl call it makes, and httpx every request.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
