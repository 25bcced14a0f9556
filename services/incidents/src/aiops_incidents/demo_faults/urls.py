"""Where the demo shop's apps are, by the service name their spans carry."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from aiops_core.urls import check_url

# `aiops up` names the shop's apps "shop-frontend", ...; their spans say "frontend", ...
SHOP_SPEC_PREFIX = "shop-"
FORMAT = "service=URL entries separated by commas, e.g. payment=http://127.0.0.1:8081"
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def parse_shop_urls(text: str) -> dict[str, str]:
    """`AIOPS_DEMO_SHOP_URLS` as {service: base URL}, sorted by service; empty text, no shop.
    A malformed entry is a configuration error that names it."""
    urls: dict[str, str] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        service, equals, url = (part.strip() for part in entry.partition("="))
        if not equals or not _SERVICE_NAME.match(service):
            raise ValueError(f"{entry!r} is not service=URL; expected {FORMAT}")
        try:
            check_url(url, ("http", "https"))
            _ = urlsplit(url).port  # raises on a port that is not a number
        except ValueError as exc:
            raise ValueError(f"the URL of {service} {exc}; expected {FORMAT}") from exc
        if service in urls:
            raise ValueError(f"{service} is given twice; expected {FORMAT}")
        urls[service] = url.rstrip("/")
    return dict(sorted(urls.items()))


def shop_urls(setting: str, service_urls: Mapping[str, str]) -> dict[str, str]:
    """The demo shop's apps: the setting when it is set, else the shop apps running in the same
    process (`aiops up`), else none."""
    if setting.strip():
        return parse_shop_urls(setting)
    return {
        name.removeprefix(SHOP_SPEC_PREFIX): url.rstrip("/")
        for name, url in sorted(service_urls.items())
        if name.startswith(SHOP_SPEC_PREFIX)
    }
