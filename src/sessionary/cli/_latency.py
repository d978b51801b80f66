"""A constant-memory latency recorder for ``sessionary bench`` (log-spaced buckets)."""

from __future__ import annotations

import math

__all__ = ["LatencyHistogram"]

_FLOOR = 1e-7
"""Samples below 0.1 µs share the first bucket."""
_RATIO = 1.01
_LOG_RATIO = math.log(_RATIO)


class LatencyHistogram:
    """Records durations in seconds; quantiles are exact to within 1 % (one bucket's width).

    Memory stays constant however long the run: a bucket per 1 % step of latency, so about
    1 400 buckets cover 0.1 µs to 100 s.
    """

    __slots__ = ("_buckets", "count", "maximum", "minimum", "total")

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = 0.0

    def record(self, seconds: float) -> None:
        """Add one sample."""
        index = 0 if seconds <= _FLOOR else math.ceil(math.log(seconds / _FLOOR) / _LOG_RATIO)
        self._buckets[index] = self._buckets.get(index, 0) + 1
        self.count += 1
        self.total += seconds
        self.minimum = min(self.minimum, seconds)
        self.maximum = max(self.maximum, seconds)

    def merge(self, other: LatencyHistogram) -> None:
        """Add every sample of ``other``."""
        for index, count in other._buckets.items():
            self._buckets[index] = self._buckets.get(index, 0) + count
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    @property
    def mean(self) -> float:
        """Average duration (0 when empty)."""
        return self.total / self.count if self.count else 0.0

    def quantile(self, q: float) -> float:
        """The duration under which a fraction ``q`` of the samples fall (0 when empty)."""
        if not 0.0 <= q <= 1.0:
            msg = "q must be between 0 and 1"
            raise ValueError(msg)
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen >= rank:
                upper = _FLOOR * _RATIO**index
                return min(max(upper, self.minimum), self.maximum)
        return self.maximum  # pragma: no cover - rank <= count always stops the loop
