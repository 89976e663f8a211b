"""A streaming histogram with log-spaced buckets (DDSketch-style).

Any quantile it reports is within ``rel_error`` (1 %) of a true sample value of that
rank (the nearest rank, ``rank``: the one rule of every percentile the monitor shows);
memory grows with the logarithm of the value range, not with the sample count,
and two histograms merge by adding their bucket counts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

DEFAULT_REL_ERROR = 0.01
ZERO_BELOW = 1e-9  # values below this (a zero-delay attempt) count in the zero bucket


def rank(q: float, n: int) -> int:
    """The nearest rank of quantile ``q`` (0..1) among ``n`` samples, 1-based: the smallest
    k with k >= q x n (at least 1, at most n). The k-th smallest sample is the smallest
    value with at least a share q of the samples at or below it: q = 0 gives the least, 1
    the largest. Every percentile the monitor shows takes this rank: the histograms' (queue
    wait, attempt time, lateness) and the delivery time's (``monitor/tally/series.py``:
    when the k-th delivery arrived), as the virtual model's ``time_to`` does. A product
    q x n a rounding error above a whole number (0.95 x 100 = 95.00000000000001) counts as
    that number."""
    return min(max(math.ceil(q * n * (1 - 1e-12)), 1), max(n, 1))


class LogHistogram:
    def __init__(self, rel_error: float = DEFAULT_REL_ERROR) -> None:
        self.rel_error = rel_error
        self._gamma = (1 + rel_error) / (1 - rel_error)
        self._log_gamma = math.log(self._gamma)
        self._inv_log_gamma = 1 / self._log_gamma
        self.buckets: Counter[int] = Counter()
        self.zeros = 0
        self.count = 0
        self.total = 0.0

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        if value < ZERO_BELOW:
            self.zeros += 1
        else:
            index = math.ceil(math.log(value) * self._inv_log_gamma)
            self.buckets[index] = self.buckets.get(index, 0) + 1

    def add_many(self, values: list[float]) -> None:
        """``add`` for each value, without a call per value (the monitor's hot path)."""
        log, ceil, inv = math.log, math.ceil, self._inv_log_gamma
        buckets, get = self.buckets, self.buckets.get
        zeros = 0
        for value in values:
            if value < ZERO_BELOW:
                zeros += 1
            else:
                index = ceil(log(value) * inv)
                buckets[index] = get(index, 0) + 1
        self.zeros += zeros
        self.count += len(values)
        self.total += sum(values)

    def merge(self, other: LogHistogram) -> None:
        self.buckets.update(other.buckets)
        self.zeros += other.zeros
        self.count += other.count
        self.total += other.total

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def quantile(self, q: float) -> float:
        """The value at quantile ``q`` (0..1): the sample of nearest rank ``rank(q, n)``,
        within rel_error; 0.0 when empty."""
        return self.quantiles([q])[0]

    def quantiles(self, qs: Sequence[float]) -> list[float]:
        """``quantile`` of each of ``qs``, in one pass over the buckets (a whole ladder of
        percentiles costs one sort, not one per percentile)."""
        if self.count == 0:
            return [0.0] * len(qs)
        ranks = [rank(q, self.count) for q in qs]
        found = [0.0] * len(qs)
        order = sorted(range(len(qs)), key=ranks.__getitem__)
        buckets = iter(sorted(self.buckets.items()))
        seen, value = self.zeros, 0.0
        for i in order:
            while seen < ranks[i] and (bucket := next(buckets, None)) is not None:
                seen += bucket[1]
                value = self._value(bucket[0])
            found[i] = value
        return found

    def _value(self, index: int) -> float:
        """The representative of bucket ``index``: within rel_error of every value in it."""
        return 2 * self._gamma**index / (self._gamma + 1)

    def bins(self) -> list[tuple[float, float, int]]:
        """(low, high, count) per non-empty bucket, for charts."""
        return [
            (self._gamma ** (i - 1), self._gamma**i, self.buckets[i]) for i in sorted(self.buckets)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "e": self.rel_error,
            "z": self.zeros,
            "n": self.count,
            "t": self.total,
            "b": {str(i): c for i, c in self.buckets.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogHistogram:
        hist = cls(float(data["e"]))
        hist.zeros = int(data["z"])
        hist.count = int(data["n"])
        hist.total = float(data["t"])
        hist.buckets = Counter({int(i): int(c) for i, c in data["b"].items()})
        return hist
