"""Validation and redaction of connection URLs."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def check_url(value: str, schemes: tuple[str, ...]) -> str:
    """Return `value` if it is a URL with one of `schemes` and a host (or a socket path)."""
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise ValueError(f"must start with one of {allowed} (got {parts.scheme or 'no scheme'!r})")
    if parts.scheme != "unix" and not parts.hostname and "host=" not in parts.query:
        raise ValueError("must name a host")
    return value


def redact(url: str) -> str:
    """The URL without its password, safe to log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
