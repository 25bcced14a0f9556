"""A mergeable latency histogram with logarithmic buckets (the idea of DDSketch).

A duration d lands in bucket ceil(log_gamma(d)); every bucket spans a fixed ratio, so any
quantile read back is within `RELATIVE_ACCURACY` of the true value, whatever the range. Two
histograms merge by adding counts per bucket, which is what lets each batch's counts be added
into Redis with HINCRBY and windows be summed from per-second slots — no samples are kept.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

RELATIVE_ACCURACY = 0.02
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
# Durations at or below this (in ms) share bucket 0: a microsecond is as fast as it matters.
MIN_DURATION_MS = 0.001
_MIN_INDEX = math.ceil(math.log(MIN_DURATION_MS) / _LOG_GAMMA)


def bucket_of(duration_ms: float) -> int:
    if duration_ms <= MIN_DURATION_MS:
        return _MIN_INDEX
    return math.ceil(math.log(duration_ms) / _LOG_GAMMA)


def bucket_value(index: int) -> float:
    """The value that represents a bucket: the point of its range with the least relative error."""
    return 2 * _GAMMA**index / (_GAMMA + 1)


class LatencyHistogram:
    def __init__(self, counts: Mapping[int, int] | None = None) -> None:
        # Counter(mapping) checks the mapping against an ABC: a tenth of an evaluation of many
        # series went there when every histogram was built that way.
        self.counts: Counter[int] = Counter(counts) if counts else Counter()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LatencyHistogram) and +self.counts == +other.counts

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"LatencyHistogram({dict(sorted(self.counts.items()))})"

    def add(self, duration_ms: float, count: int = 1) -> None:
        self.counts[bucket_of(duration_ms)] += count

    def merge(self, other: LatencyHistogram) -> None:
        self.counts.update(other.counts)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 <= q <= 1), or None for an empty histogram."""
        total = self.total
        if total == 0:
            return None
        rank = q * (total - 1)
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen > rank:
                return bucket_value(index)
        return bucket_value(max(self.counts))

    def quantiles(self, qs: Iterable[float]) -> list[float | None]:
        return [self.quantile(q) for q in qs]

    def count_above(self, duration_ms: float) -> int:
        """Durations counted in buckets wholly above `duration_ms` (within the buckets' accuracy)."""
        limit = bucket_of(duration_ms)
        return sum(count for index, count in self.counts.items() if index > limit)
