"""Issue 25 item 3: the histograms' buckets are fine enough for quantiles within 5 %.

Prometheus's ``histogram_quantile`` (``bucket_quantile`` below: promql/quantile.go,
line for line) interpolates linearly within the bucket the quantile falls in. Over the
distributions the monitor exports (attempt times: gamma delays of every shape, one
sender's and a fleet's; queue waits: a backlog drained at a steady rate, from half a
second to an hour), its p50, p95 and p99 from our buckets are compared with the samples'
own quantiles. Measured worst: 3.4 %, a p99 in a sparse tail (the bound: 4.1 %, the
buckets' ratio; 0.6 % for the median distribution); with powers of two, the buckets
before, up to 75 % (38 % for the median distribution).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from common.histogram import LogHistogram
from monitor.views.buckets import RATIO, attempt_bounds, cumulative, wait_bounds

FLEET = [0.05, 0.10, 0.15, 0.20, 0.10]  # the example's mean times
QUANTILES = (0.5, 0.95, 0.99)
WORST = 0.05  # the bound


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus's estimate of quantile ``q`` from cumulative ``(le, count)`` buckets,
    ascending, the last one +Inf."""
    if not buckets or buckets[-1][0] != math.inf:
        return math.nan
    highest, monotonic = 0.0, []
    for le, count in buckets:  # ensureMonotonic
        highest = max(highest, count)
        monotonic.append((le, highest))
    observations = monotonic[-1][1]
    if len(monotonic) < 2 or observations == 0:
        return math.nan
    rank = q * observations
    b = (
        next(i for i, (_, count) in enumerate(monotonic[:-1]) if count >= rank)
        if any(count >= rank for _, count in monotonic[:-1])
        else len(monotonic) - 1
    )
    if b == len(monotonic) - 1:
        return monotonic[-2][0]
    if b == 0 and monotonic[0][0] <= 0:
        return monotonic[0][0]
    start, end, count = 0.0, monotonic[b][0], monotonic[b][1]
    if b > 0:
        start, below = monotonic[b - 1]
        count -= below
        rank -= below
    return start + (end - start) * rank / count


def worst_error(samples: list[float], bounds: tuple[float, ...]) -> float:
    """The largest relative error of p50/p95/p99 from ``bounds``' buckets, counted from
    the monitor's histogram as the exporter counts them."""
    hist = LogHistogram()
    hist.add_many(samples)
    buckets = [*zip(bounds, map(float, cumulative(hist, bounds)), strict=True)]
    buckets.append((math.inf, float(len(samples))))
    ordered = sorted(samples)
    worst = 0.0
    for q in QUANTILES:
        exact = ordered[max(math.ceil(q * len(ordered)) - 1, 0)]
        worst = max(worst, abs(bucket_quantile(q, buckets) - exact) / exact)
    return worst


def distributions() -> list[tuple[str, list[float], Callable[..., tuple[float, ...]]]]:
    rng = random.Random(25)
    found: list[tuple[str, list[float], Callable[..., tuple[float, ...]]]] = []
    for shape in (1, 2, 5, 10, 30):
        for mean in (0.05, 0.2):
            samples = [rng.gammavariate(shape, mean / shape) for _ in range(2000)]
            found.append((f"one sender, shape {shape}, mean {mean}", samples, attempt_bounds))
        fleet = [rng.gammavariate(shape, m / shape) for m in FLEET for _ in range(500)]
        found.append((f"the example fleet, shape {shape}", fleet, attempt_bounds))
    for i in range(30):  # waits from 0.5 s to an hour: a backlog drained steadily
        longest = 0.5 * 7200 ** (i / 29)
        waits = [rng.uniform(0, longest) + rng.gammavariate(10, 0.012) for _ in range(2000)]
        found.append((f"queue wait up to {longest:.3g} s", waits, wait_bounds))
    return found


def test_quantiles_from_the_buckets_are_within_5_percent() -> None:
    errors = {name: worst_error(s, bounds(FLEET)) for name, s, bounds in distributions()}
    name = max(errors, key=errors.__getitem__)
    assert errors[name] <= WORST, (name, errors[name])
    # Within the bucket the quantile falls in (4.1 % wide), whatever the distribution:
    # the worst here, 3.4 %, is a p99 with 25 samples above it, far apart.
    assert errors[name] <= RATIO - 1 + 1e-12, (name, errors[name])
    typical = sorted(errors.values())[len(errors) // 2]
    assert typical < 0.01, typical  # the median distribution: 0.6 %


def test_powers_of_two_were_not() -> None:
    """The comparison above can fail: the buckets before were powers of two."""

    def powers(low: float, high: float) -> tuple[float, ...]:
        return tuple(
            2.0**k for k in range(math.floor(math.log2(low)), math.ceil(math.log2(high)) + 1)
        )

    errors = [
        worst_error(s, powers(bounds(FLEET)[0], bounds(FLEET)[-1]))
        for _, s, bounds in distributions()
    ]
    assert max(errors) > 0.3
