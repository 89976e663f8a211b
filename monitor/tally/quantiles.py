"""The percentile ladder of a distribution of times, as Locust's: min, p50, p66, p75, p90,
p95, p99, p99.9 and max.

Each is the sample of nearest rank (``common.histogram.rank``: the smallest value with at
least that share of the samples at or below it), one rule for every distribution. The
final summary, the JSON summary, the CSV files, the HTML report and ``sms-sim show`` give
the whole ladder; the live dashboard, the per-period plain lines, the senders' lines and
tables and ``/metrics`` give ``SHORT`` (p50, p95, p99), to stay readable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from common.histogram import LogHistogram

# (field: also the JSON key and the CSV column's suffix; as text writes it; the share)
LADDER: tuple[tuple[str, str, float], ...] = (
    ("min", "min", 0.0),
    ("p50", "p50", 0.50),
    ("p66", "p66", 0.66),
    ("p75", "p75", 0.75),
    ("p90", "p90", 0.90),
    ("p95", "p95", 0.95),
    ("p99", "p99", 0.99),
    ("p99_9", "p99.9", 0.999),
    ("max", "max", 1.0),
)
NAMES: tuple[str, ...] = tuple(name for name, _, _ in LADDER)  # the whole ladder
LABELS: dict[str, str] = {name: label for name, label, _ in LADDER}  # p99_9 -> p99.9
SHARES: tuple[float, ...] = tuple(share for _, _, share in LADDER)
SHORT: tuple[str, ...] = ("p50", "p95", "p99")  # where room is short
QUANTILES = (50, 95, 99)  # SHORT as percents (the Prometheus label ``percentile``)


@dataclass(frozen=True)
class Percentiles:
    min: float
    p50: float
    p66: float
    p75: float
    p90: float
    p95: float
    p99: float
    p99_9: float
    max: float

    @classmethod
    def of(cls, hist: LogHistogram) -> Percentiles:
        """The ladder of ``hist`` (one pass over its buckets)."""
        return cls(*hist.quantiles(SHARES))

    def items(self, names: Sequence[str] = NAMES) -> tuple[tuple[str, float], ...]:
        """(field, value) of each of ``names`` (the whole ladder by default)."""
        return tuple((name, getattr(self, name)) for name in names)

    def values(self, names: Sequence[str] = NAMES) -> tuple[float, ...]:
        return tuple(getattr(self, name) for name in names)

    def times(self, factor: float) -> Percentiles:
        """Each value times ``factor`` (real seconds into simulated ones)."""
        return Percentiles(*(value * factor for value in self.values()))


assert tuple(f.name for f in dataclasses.fields(Percentiles)) == NAMES
