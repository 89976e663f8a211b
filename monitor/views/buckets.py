"""Bucket bounds of the Prometheus histograms, chosen from the senders' configured means,
and the monitor's own histograms counted into them.

A Prometheus histogram counts the observations at or below fixed bounds (``le``). Ours
are powers of two around the configured mean times (``mean_time`` of the senders' profiles,
zero-delay ones left out; 1 ms when none is known or every one is 0):

- attempt time: from the power of two at or below (smallest mean) / 8 to the one at or
  above (largest mean) x 8; a gamma delay of shape 10 stays well inside (a fleet of
  means 50 ms to 300 ms gets 3.9 ms ... 4 s, 11 bounds);
- enqueue to delivered (queue wait + send): from the power of two at or below
  (smallest mean) / 4 up to 4096 s (68 min), since the wait in the outbox follows the
  backlog, not the fleet.

The monitor keeps log-spaced histograms (``common/histogram.py``), so each count is exact
to within one of their buckets: an observation within 1 % of a bound may fall on either
side of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from common.histogram import LogHistogram

NO_MEAN = 0.001  # seconds: the scale when no sender has a positive mean time
ATTEMPT_SPAN = 8.0  # attempt bounds reach this factor below the smallest, above the largest mean
WAIT_BELOW = 4.0  # enqueue-to-delivered bounds start this factor below the smallest mean
WAIT_TOP = 2.0**12  # and end here (seconds)


def _power_below(value: float) -> int:
    return math.floor(math.log2(value))


def _power_above(value: float) -> int:
    return math.ceil(math.log2(value))


def _powers(low: int, high: int) -> tuple[float, ...]:
    return tuple(2.0**k for k in range(low, high + 1))


def _positive(means: Iterable[float | None]) -> list[float]:
    found = [m for m in means if m is not None and m > 0 and math.isfinite(m)]
    return found or [NO_MEAN]


def attempt_bounds(means: Iterable[float | None]) -> tuple[float, ...]:
    """Bounds for attempt durations: powers of two from smallest mean / 8 to largest x 8."""
    found = _positive(means)
    low = _power_below(min(found) / ATTEMPT_SPAN)
    return _powers(low, max(_power_above(max(found) * ATTEMPT_SPAN), low + 1))


def wait_bounds(means: Iterable[float | None]) -> tuple[float, ...]:
    """Bounds for enqueue to delivered: powers of two from smallest mean / 4 to 4096 s."""
    low = _power_below(min(_positive(means)) / WAIT_BELOW)
    return _powers(low, max(_power_above(WAIT_TOP), low + 1))


def cumulative(hist: LogHistogram, bounds: tuple[float, ...]) -> list[int]:
    """How many of ``hist``'s observations lie at or below each bound (ascending): each
    of its buckets counts where its representative value (within 1 % of every value in
    it) lies."""
    counts = []
    running = hist.zeros
    bins = iter(hist.bins())
    pending = next(bins, None)
    for bound in bounds:
        while pending is not None and _representative(pending) <= bound:
            running += pending[2]
            pending = next(bins, None)
        counts.append(running)
    return counts


def _representative(bin_: tuple[float, float, int]) -> float:
    low, high, _ = bin_
    return 2 * low * high / (low + high)  # LogHistogram's own representative of the bucket
