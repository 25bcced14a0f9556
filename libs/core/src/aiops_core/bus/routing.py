"""AMQP topic matching: `*` matches one dot-separated word, `#` matches zero or more."""

from __future__ import annotations


def topic_matches(pattern: str, routing_key: str) -> bool:
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])
