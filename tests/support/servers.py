"""Small helpers for the real servers, shared by the test fixtures and the benchmarks."""

from __future__ import annotations

import subprocess
from urllib.parse import urlsplit, urlunsplit


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)
