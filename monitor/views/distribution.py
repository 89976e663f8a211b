"""Observed attempt times against the configured gamma distribution, for the report.

A sender draws each attempt's delay from a gamma distribution with shape ``k`` and mean
``mean`` (scale ``mean / k``). The observed histogram keeps log-spaced buckets; the bars
drawn over the gamma curve are runs of whole buckets about ``x_max / BINS`` wide, so each
bar holds exactly the observations in its range (splitting a bucket between two bars
would have to guess how its observations spread) and its height is their density.
"""

from __future__ import annotations

import bisect
import math

from common.histogram import LogHistogram

BINS = 40
CURVE_POINTS = 120

Bar = tuple[float, float, float]  # (low, high, density)


def gamma_pdf(x: float, mean: float, shape: float) -> float:
    """The gamma density at ``x`` for the given mean and shape (0 outside x > 0)."""
    if x <= 0 or mean <= 0 or shape <= 0:
        return 0.0
    scale = mean / shape
    log_pdf = (shape - 1) * math.log(x) - x / scale - math.lgamma(shape) - shape * math.log(scale)
    return math.exp(log_pdf)


def x_range(hist: LogHistogram, mean: float | None, shape: float) -> float:
    """How far right to draw: past the bulk of the observations and of the gamma curve."""
    observed = hist.quantile(0.995) * 1.2 if hist.count else 0.0
    expected = mean * (1 + 4 / math.sqrt(shape)) if mean else 0.0
    return max(observed, expected)


def bulk_range(hist: LogHistogram, mean: float | None, shape: float) -> float:
    """How far right to draw on an axis shared by several senders: past the bulk of the
    gamma curve and twice and a half the observed median, so a few long attempts (the
    timeouts of an outage) do not squeeze every chart to its left edge."""
    observed = hist.quantile(0.5) * 2.5 if hist.count else 0.0
    expected = mean * (1 + 4 / math.sqrt(shape)) if mean else 0.0
    return max(observed, expected)


def density_bins(hist: LogHistogram, x_max: float, bins: int = BINS) -> list[Bar]:
    """(low, high, density) bars over [0, about x_max], each about ``x_max / bins`` wide with
    its edges on bucket edges; the densities integrate to the share of observations in range
    (beyond the last edge is left out). Zero-time attempts fall in the first bar."""
    if hist.count == 0 or x_max <= 0:
        return []
    gamma = (1 + hist.rel_error) / (1 - hist.rel_error)
    tops = _bar_tops(gamma, x_max / bins, x_max)
    counts = [0] * len(tops)
    counts[0] = hist.zeros
    for index, count in hist.buckets.items():
        at = bisect.bisect_left(tops, index)
        if at < len(tops):
            counts[at] += count
    edges = [0.0, *(gamma**top for top in tops)]
    return [
        (lo, hi, count / (hist.count * (hi - lo)))
        for lo, hi, count in zip(edges, edges[1:], counts, strict=False)
    ]


def _bar_tops(gamma: float, width: float, x_max: float) -> list[int]:
    """Bucket i holds (gamma**(i-1), gamma**i]: each bar ends on the bucket edge nearest
    ``width`` past the previous bar's end (at least one bucket on), up to about x_max."""
    log_gamma = math.log(gamma)
    tops: list[int] = []
    edge = 0.0
    while edge < x_max - width / 2:
        top = round(math.log(edge + width) / log_gamma)
        if tops:
            top = max(top, tops[-1] + 1)
        tops.append(top)
        edge = gamma**top
    return tops


def gamma_curve(mean: float, shape: float, x_max: float) -> list[tuple[float, float]]:
    if mean <= 0 or x_max <= 0:
        return []
    step = x_max / CURVE_POINTS
    return [(i * step, gamma_pdf(i * step, mean, shape)) for i in range(CURVE_POINTS + 1)]
