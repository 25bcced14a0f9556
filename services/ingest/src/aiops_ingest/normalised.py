"""What every signal's normaliser shares: the limits it applies and the result it returns, the
items it kept and the count of those it refused, by reason.

An item (a span, a metric point, a log record) that cannot be stored usefully is refused with a
reason, counted, and reported to the client as a partial success; the rest of its request goes
through.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

NS_PER_S = 1_000_000_000

# Reason codes (metric labels) and what they mean to the client.
REASONS = {
    "invalid_trace_id": "trace id is not 16 bytes or is all zero",
    "invalid_span_id": "span id is not 8 bytes or is all zero",
    "invalid_parent_span_id": "parent span id is not 8 bytes",
    "missing_start_time": "no start time",
    "missing_time": "no time",
    "ends_before_start": "end time before start time",
    "too_old": "older than the retention period",
    "in_future": "in the future beyond the allowed clock skew",
    "not_finite": "value is not a finite number",
    "bucket_counts_mismatch": "a histogram's bucket counts do not match its bounds",
    "unknown_metric_type": "a metric with no name or no data of a known type",
    "no_temporality": "a sum or histogram with no aggregation temporality",
    "missing_value": "a data point with no value",
}


@dataclass(frozen=True)
class Limits:
    max_attributes: int = 32
    max_attribute_length: int = 256
    max_age_s: int = 7 * 24 * 3600
    max_clock_skew_s: int = 3600

    def time_window_ns(self) -> tuple[int, int]:
        """The oldest and newest times an item may have, now."""
        now = time.time_ns()
        return now - self.max_age_s * NS_PER_S, now + self.max_clock_skew_s * NS_PER_S


@dataclass
class Normalised(Generic[T]):
    items: list[T] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected.values())

    def rejection_message(self) -> str:
        return "; ".join(
            f"{count} refused: {REASONS.get(reason, reason.replace('_', ' '))}"
            for reason, count in sorted(self.rejected.items())
        )


def clean(text: str, limit: int) -> str:
    # PostgreSQL text and jsonb cannot hold NUL characters.
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text[:limit]
