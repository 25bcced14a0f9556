"""The Redis pub/sub channel that carries every incident notification (the stream reads it)."""

from __future__ import annotations


def incidents_channel(redis_key_prefix: str) -> str:
    return f"{redis_key_prefix}incidents"
