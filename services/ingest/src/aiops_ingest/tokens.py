"""Ingest's bearer tokens: what HTTP requests and gRPC calls alike are checked against."""

from __future__ import annotations

import hmac
from collections.abc import Sequence


def token_accepted(offered: str, tokens: Sequence[str]) -> bool:
    """Whether `offered` is one of `tokens` (any is, when there are none). Compared with every
    token, in constant time, so that timing reveals nothing."""
    if not tokens:
        return True
    matches = [hmac.compare_digest(offered.encode(), token.encode()) for token in tokens]
    return any(matches)
