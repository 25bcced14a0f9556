"""Rolling order statistics over the last n values, for the streaming scorer: bounded memory and
bounded work per value, whatever the length of the series."""

from __future__ import annotations

import bisect
import math
from collections import deque


class RollingOrder:
    """The last `size` values, also kept sorted: median and MAD in O(log n), updates in O(n)
    memmove (no Python-level loop)."""

    def __init__(self, size: int) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._values)

    def append(self, value: float) -> None:
        if len(self._values) == self._values.maxlen:
            del self._sorted[bisect.bisect_left(self._sorted, self._values[0])]
        self._values.append(value)
        bisect.insort(self._sorted, value)

    def median(self) -> float:
        ordered, mid = self._sorted, len(self._sorted) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    def value_range(self) -> float:
        return self._sorted[-1] - self._sorted[0]

    def median_absolute_deviation(self) -> float:
        """The median of |value - median|. The distances below and above the median are two sorted
        sequences, and the k-th smallest of two sorted sequences is a binary search."""
        n = len(self._sorted)
        if n % 2:
            return self._kth_distance(n // 2)
        return (self._kth_distance(n // 2 - 1) + self._kth_distance(n // 2)) / 2

    def _kth_distance(self, k: int) -> float:
        ordered, centre = self._sorted, self.median()
        split = bisect.bisect_left(ordered, centre)
        below, above = split, len(ordered) - split

        def left(i: int) -> float:  # the i-th smallest distance below the centre
            return centre - ordered[split - 1 - i]

        def right(i: int) -> float:  # the i-th smallest distance at or above the centre
            return ordered[split + i] - centre

        # The k + 1 smallest distances are x from below and k + 1 - x from above.
        low, high = max(0, k + 1 - above), min(k + 1, below)
        while True:
            x = (low + high) // 2
            y = k + 1 - x
            if x < below and y > 0 and right(y - 1) > left(x):
                low = x + 1
            elif x > 0 and y < above and left(x - 1) > right(y):
                high = x - 1
            else:
                return max(left(x - 1) if x > 0 else -math.inf, right(y - 1) if y > 0 else -math.inf)


class RollingMax:
    """The largest of the last `size` values, O(1) amortised (a deque of decreasing candidates)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._candidates: deque[tuple[int, float]] = deque()
        self._count = 0

    def __len__(self) -> int:
        return len(self._candidates)

    def append(self, value: float) -> None:
        while self._candidates and self._candidates[-1][1] <= value:
            self._candidates.pop()
        self._candidates.append((self._count, value))
        if self._candidates[0][0] <= self._count - self._size:
            self._candidates.popleft()
        self._count += 1

    def max(self) -> float:
        return self._candidates[0][1] if self._candidates else 0.0
