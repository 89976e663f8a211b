"""Bucket bounds of the Prometheus histograms, and the monitor's own histograms counted
into them.

A Prometheus histogram counts the observations at or below fixed bounds (``le``), and
``histogram_quantile`` interpolates linearly within the bucket a quantile falls in: its
answer can be off by up to the bucket's width. The bounds here are a geometric series of
ratio ``RATIO`` (about 1.041), so a quantile is within 4.1 % of the true one whatever the
distribution: over gamma attempt times of every shape and queue waits of 0.5 s to an
hour, the worst measured was 3.4 % (a p99 with few samples above it, far apart), 0.6 %
for the median distribution (``tests/monitor/views/test_metrics_buckets.py``). Powers of
two, the first choice, were off by up to 75 % (a p99 at the low end of a bucket twice as
wide), 38 % for the median distribution.

Each bound is an edge of the monitor's log-spaced histograms (``common/histogram.py``,
ratio ``GAMMA``: every other one of their edges), so the counts are exact, not estimated.

The range, from the senders' configured mean times (``mean_time`` of their profiles,
zero-delay ones left out; 1 ms when none is known or every one is 0):

- attempt time (simulated seconds): from (smallest mean) / 8 to (largest mean) x 8, and
  up to twice the longest ``timeout`` of a profile with outages (an attempt in an outage
  lasts that long); a gamma delay of shape 10 stays well inside (means of 50 ms to 200 ms
  give 6.2 ms ... 1.6 s, 140 bounds);
- enqueue to delivered (queue wait + send): from (smallest mean) / 4, but not below 1 ms
  of real time (a message's way through Redis takes longer), up to 4096 real seconds
  (68 min), in simulated seconds (times the run's time scale), since the wait in the
  outbox follows the backlog, not the fleet (319 bounds for those means, 382 at most).

A histogram has at most ``MAX_BUCKETS`` bounds: a range that would need more takes every
other bound, then every fourth... (the error bound doubles each time; a fleet whose means
span more than about a factor of 2^10 needs it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from common.histogram import DEFAULT_REL_ERROR, LogHistogram

NO_MEAN = 0.001  # seconds: the scale when no sender has a positive mean time
ATTEMPT_SPAN = 8.0  # attempt bounds reach this factor below the smallest, above the largest mean
TIMEOUT_SPAN = 2.0  # and this factor above the longest timeout of a profile with outages
WAIT_BELOW = 4.0  # enqueue-to-delivered bounds start this factor below the smallest mean
WAIT_FLOOR = 0.001  # real seconds: and not below this
WAIT_TOP = 2.0**12  # and end here (real seconds)
MAX_BUCKETS = 400  # bounds of one histogram, at most

# The monitor's histograms' bucket ratio, computed as LogHistogram computes it (the very
# same float, so its edges GAMMA ** i are the bounds here).
GAMMA = (1 + DEFAULT_REL_ERROR) / (1 - DEFAULT_REL_ERROR)
STEP = 2  # a bound every STEP edges of those histograms
RATIO = GAMMA**STEP  # of two consecutive bounds: the worst quantile error is RATIO - 1
_LOG_GAMMA = math.log(GAMMA)


def edges(low: float, high: float, limit: int = MAX_BUCKETS) -> tuple[float, ...]:
    """Bounds from at or below ``low`` to at or above ``high``: every ``STEP``-th edge of
    the monitor's histograms (``GAMMA ** i``, ``i`` a multiple of the step), the step
    doubled until ``limit`` bounds cover the range."""
    first = math.floor(math.log(low) / _LOG_GAMMA)
    last = max(math.ceil(math.log(high) / _LOG_GAMMA), first + 1)
    step = STEP
    while True:
        start, end = (first // step) * step, -(-last // step) * step
        if (end - start) // step + 1 <= limit:
            return tuple(GAMMA**i for i in range(start, end + 1, step))
        step *= 2


def _positive(means: Iterable[float | None]) -> list[float]:
    found = [m for m in means if m is not None and m > 0 and math.isfinite(m)]
    return found or [NO_MEAN]


def attempt_bounds(
    means: Iterable[float | None], timeouts: Iterable[float] = ()
) -> tuple[float, ...]:
    """Bounds for attempt durations (simulated seconds): from smallest mean / 8 to largest
    mean x 8, or twice the longest of ``timeouts`` (of profiles with outages) if more."""
    found = _positive(means)
    top = max([max(found) * ATTEMPT_SPAN, *(t * TIMEOUT_SPAN for t in timeouts)])
    return edges(min(found) / ATTEMPT_SPAN, top)


def wait_bounds(means: Iterable[float | None], scale: float = 1.0) -> tuple[float, ...]:
    """Bounds for enqueue to delivered, in real seconds (the monitor keeps those times in
    real seconds; times ``scale`` they are the simulated bounds a scrape shows): from
    smallest mean / 4 (simulated; 1 ms real at least) to 4096 real seconds."""
    low = max(min(_positive(means)) / WAIT_BELOW / scale, WAIT_FLOOR)
    return edges(min(low, WAIT_TOP / 2), WAIT_TOP)


def cumulative(hist: LogHistogram, bounds: tuple[float, ...]) -> list[int]:
    """How many of ``hist``'s observations lie at or below each bound (ascending): each
    of its buckets counts where its representative value (within 1 % of every value in
    it) lies, so a bound on one of its edges gets the exact count."""
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
