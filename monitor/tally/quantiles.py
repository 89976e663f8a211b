"""The three percentiles every view shows of a distribution: p50, p95 and p99."""

from __future__ import annotations

from dataclasses import dataclass

from common.histogram import LogHistogram

QUANTILES = (50, 95, 99)
NAMES = tuple(f"p{q}" for q in QUANTILES)


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, hist: LogHistogram) -> Percentiles:
        return cls(*(hist.quantile(q / 100) for q in QUANTILES))

    def items(self) -> tuple[tuple[str, float], ...]:
        """(``p50``, value), (``p95``, value), (``p99``, value)."""
        return tuple(zip(NAMES, (self.p50, self.p95, self.p99), strict=True))

    def values(self) -> tuple[float, float, float]:
        return self.p50, self.p95, self.p99

    def times(self, factor: float) -> Percentiles:
        """Each value times ``factor`` (real seconds into simulated ones)."""
        return Percentiles(self.p50 * factor, self.p95 * factor, self.p99 * factor)
