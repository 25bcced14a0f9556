"""Route templates: `/payment/42` becomes `/payment/{id}`, so that a series is an operation and
not one of its million URLs. Used when a span carries no `http.route` of its own."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
_HEX = re.compile(r"^[0-9a-fA-F]{8,}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-.~=]{16,}$")


def _is_identifier(segment: str) -> bool:
    if not segment or segment.startswith("{"):
        return False
    if _NUMBER.match(segment) or _UUID.match(segment) or "@" in segment:
        return True
    has_digit = any(ch.isdigit() for ch in segment)
    # A hex run or a long token is an id only with a digit in it: /deadbeef/ or /aaaaaaaa/
    # could be words, /5f3c9a1e/ is not.
    return has_digit and bool(_HEX.match(segment) or _TOKEN.match(segment))


def template_path(path_or_url: str) -> str:
    """The path of a URL or path with its query dropped and each id segment made `{id}`."""
    path = urlsplit(path_or_url).path if "://" in path_or_url else path_or_url
    path = path.split("?", 1)[0].split("#", 1)[0]
    if not path:
        return "/"
    return "/".join("{id}" if _is_identifier(segment) else segment for segment in path.split("/"))
