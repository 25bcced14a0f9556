"""Counters of the notifications sent, so that a failing receiver or a dead-letter shows on a
dashboard before anyone misses a page."""

from __future__ import annotations

from typing import Literal

from prometheus_client import CollectorRegistry, Counter

Channel = Literal["webhook", "redis"]
Outcome = Literal["delivered", "failed", "dead", "silenced", "published"]

# Every series that can occur, created at zero so that rate() and alerts see them from the start.
_SERIES: tuple[tuple[Channel, Outcome], ...] = (
    ("webhook", "delivered"),
    ("webhook", "failed"),
    ("webhook", "dead"),
    ("webhook", "silenced"),
    ("redis", "published"),
)


class NotificationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.notifications = Counter(
            "aiops_notifications_total",
            "Incident notifications by channel (webhook, redis) and outcome: delivered, failed (a "
            "retry will follow), dead (attempts used up, sent to the dead-letter queue), silenced "
            "(a webhook a silence held back), published (on the Redis channel).",
            ["channel", "outcome"],
            registry=registry,
        )
        for channel, outcome in _SERIES:
            self.notifications.labels(channel, outcome)

    def count(self, channel: Channel, outcome: Outcome, amount: int = 1) -> None:
        if amount:
            self.notifications.labels(channel, outcome).inc(amount)
