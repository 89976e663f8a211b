"""The simulated gateway: gamma delays around the configured mean, Bernoulli failures."""

from __future__ import annotations

import random
import statistics

import pytest

from common.gateway.gateway import Gateway


@pytest.mark.parametrize(("mean", "shape"), [(0.05, 10.0), (0.2, 10.0), (1.0, 2.0)])
def test_gamma_delay_mean_within_2_percent(mean: float, shape: float) -> None:
    gw = Gateway(mean, 0.0, shape, random.Random(11))
    delays = [gw.delay() for _ in range(40_000)]
    assert statistics.fmean(delays) == pytest.approx(mean, rel=0.02)
    # gamma variance is shape * scale^2 = mean^2 / shape
    assert statistics.pvariance(delays) == pytest.approx(mean**2 / shape, rel=0.1)
    assert min(delays) > 0


def test_mean_zero_means_no_delay() -> None:
    gw = Gateway(0.0, 0.5, 10.0, random.Random(1))
    assert {gw.delay() for _ in range(100)} == {0.0}


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.5, 0.95])
def test_failure_ratio_matches_rate(rate: float) -> None:
    gw = Gateway(0.0, rate, 10.0, random.Random(5))
    n = 40_000
    ratio = sum(gw.fails() for _ in range(n)) / n
    assert ratio == pytest.approx(rate, abs=0.01)
