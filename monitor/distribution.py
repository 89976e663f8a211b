"""Observed attempt times against the configured gamma distribution, for the report.

A sender draws each attempt's delay from a gamma distribution with shape ``k`` and mean
``mean`` (scale ``mean / k``). The observed histogram's log-spaced buckets are regrouped
into equal-width bins and scaled to a density, so both lie on the same axes.
"""

from __future__ import annotations

import math

from common.histogram import LogHistogram

DEFAULT_SHAPE = 10.0
BINS = 40
CURVE_POINTS = 120


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


def density_bins(
    hist: LogHistogram, x_max: float, bins: int = BINS
) -> list[tuple[float, float, float]]:
    """(low, high, density) over ``bins`` equal bins of [0, x_max]; density integrates to the
    share of observations in range (beyond x_max is left out)."""
    if hist.count == 0 or x_max <= 0:
        return []
    width = x_max / bins
    counts = [0] * bins
    counts[0] += hist.zeros
    for low, high, count in hist.bins():
        index = int((low + high) / 2 / width)
        if index < bins:
            counts[index] += count
    return [(i * width, (i + 1) * width, c / (hist.count * width)) for i, c in enumerate(counts)]


def gamma_curve(mean: float, shape: float, x_max: float) -> list[tuple[float, float]]:
    if mean <= 0 or x_max <= 0:
        return []
    step = x_max / CURVE_POINTS
    return [(i * step, gamma_pdf(i * step, mean, shape)) for i in range(CURVE_POINTS + 1)]
