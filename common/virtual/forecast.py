"""A forecast: many virtual runs of one fleet, summarised as bands.

Each replication is a whole run on the virtual clock (``common/virtual/run.py``) with a
seed of its own; a figure's band is its ``low`` and ``high`` percentiles over the
replications (default the 5th and 95th) around their mean. Replications run in worker
processes, as many at once as there are cores, and as many in all as fit a time budget
(at least ``MIN_REPLICATIONS``): a small run gets hundreds, a national alert a handful.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from typing import Any

from common.model import SimConfig
from common.virtual.run import Outcome, Span, simulate

MIN_REPLICATIONS = 4
MAX_REPLICATIONS = 200
BUDGET = 8.0  # wall seconds a forecast spends on replications, past its minimum
SHARES = (0.95, 0.99, 1.0)  # "95 % delivered" ...
QUANTILES = (0.50, 0.95, 0.99)  # delivery time p50 ...
CURVE = 100  # points of the delivered-over-time curve: each 1 % of the deliveries


EMPIRICAL = 20  # replications from which a band is their own percentiles


@dataclass(frozen=True)
class Band:
    """A figure over the replications: its mean, and where the ``low`` and ``high``
    percentiles of another run would fall. From EMPIRICAL replications or more, the
    replications' own percentiles; from fewer, a Student-t prediction interval (runs
    taken as normal), which a handful of runs cannot bound by their own spread."""

    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float], low: float, high: float) -> Band | None:
        """None when any replication lacks the figure (say, messages never delivered)."""
        if not values or any(math.isnan(v) for v in values):
            return None
        mean = sum(values) / len(values)
        if len(values) >= EMPIRICAL:
            ordered = sorted(values)
            return cls(mean, _rank(ordered, low), _rank(ordered, high))
        if len(values) == 1:
            return cls(mean, mean, mean)
        spread = statistics.stdev(values) * math.sqrt(1 + 1 / len(values))
        dof = len(values) - 1
        return cls(mean, mean + t_quantile(low / 100, dof) * spread,
                   mean + t_quantile(high / 100, dof) * spread)  # fmt: skip

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


def t_quantile(q: float, dof: int) -> float:
    """Student's t quantile ``q`` (0..1) with ``dof`` degrees of freedom: the normal's,
    corrected by its Cornish-Fisher expansion (within 0.5 % from 3 degrees of freedom;
    the exact value for 1 and 2)."""
    if q in (0.0, 1.0):
        return math.copysign(math.inf, q - 0.5)
    if dof == 1:
        return math.tan(math.pi * (q - 0.5))
    if dof == 2:
        return (2 * q - 1) / math.sqrt(2 * q * (1 - q))
    z = statistics.NormalDist().inv_cdf(q)
    v = float(dof)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )


def _rank(ordered: Sequence[float], q: float) -> float:
    """The ``q`` (0..100) percentile, interpolated between ranks (q(n-1))."""
    position = q / 100 * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclass(frozen=True)
class Figures:
    """The figures a forecast bands, from one replication."""

    completion: float
    delivered: dict[str, float]  # "95%" ...: when that share of the messages was delivered
    delivery: dict[str, float]  # "p50" ...: the delivered messages' delivery times
    sent: int
    failed: int
    abandoned: int
    undeliverable: int
    by_sender: tuple[int, ...]
    curve: tuple[float, ...]  # when each 1/CURVE of its deliveries was done

    @classmethod
    def of(cls, outcome: Outcome, shares: Sequence[float] = SHARES) -> Figures:
        nan = math.nan
        delivered = {share_name(s): _or(outcome.time_to(s), nan) for s in shares}
        times = outcome.delivered
        delivery = {f"p{round(q * 100)}": _quantile(times, q) for q in QUANTILES}
        return cls(
            outcome.completion,
            delivered,
            delivery,
            outcome.sent,
            outcome.failed,
            outcome.abandoned,
            outcome.undeliverable,
            outcome.by_sender,
            tuple(_quantile(times, j / CURVE) for j in range(1, CURVE + 1)) if times else (),
        )


def share_name(share: float) -> str:
    """``95%`` for 0.95: the key of a share in ``delivered``."""
    return f"{share * 100:g}%"


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of the deliveries (rank ceil(q n), as the monitor's series)."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class Forecast:
    replications: int
    band: tuple[float, float]  # its low and high percentiles
    completion: Band
    delivered: dict[str, Band | None]  # "95%" ...
    delivery: dict[str, Band | None]  # "p50" ...
    sent: Band
    failed: Band
    abandoned: Band
    undeliverable: Band
    by_sender: tuple[float, ...]  # mean messages each sender delivers
    curve: tuple[tuple[float, float], ...]  # (time, messages delivered by then), on average

    @classmethod
    def of(cls, runs: Sequence[Figures], band: tuple[float, float]) -> Forecast:
        low, high = band

        def banded(values: Sequence[float]) -> Band:
            found = Band.of(values, low, high)
            assert found is not None
            return found

        senders = len(runs[0].by_sender)
        return cls(
            len(runs),
            band,
            banded([r.completion for r in runs]),
            {k: Band.of([r.delivered[k] for r in runs], low, high) for k in runs[0].delivered},
            {k: Band.of([r.delivery[k] for r in runs], low, high) for k in runs[0].delivery},
            banded([r.sent for r in runs]),
            banded([r.failed for r in runs]),
            banded([r.abandoned for r in runs]),
            banded([r.undeliverable for r in runs]),
            tuple(sum(r.by_sender[i] for r in runs) / len(runs) for i in range(senders)),
            _mean_curve(runs),
        )

    def delivered_by(self, t: float) -> float:
        """Messages delivered by simulated time ``t``, on average (the curve, linear
        between its points, 0 at time 0)."""
        before = (0.0, 0.0)
        for point in self.curve:
            if point[0] >= t:
                span = point[0] - before[0]
                share = (t - before[0]) / span if span > 0 else 1.0
                return before[1] + (point[1] - before[1]) * share
            before = point
        return before[1]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mean_curve(runs: Sequence[Figures]) -> tuple[tuple[float, float], ...]:
    """The replications' curves averaged point by point: the mean time by which each
    1 % of the deliveries was done, at that share of the mean deliveries."""
    curves = [r.curve for r in runs if r.curve]
    if not curves:
        return ()
    sent = sum(r.sent for r in runs) / len(runs)
    return tuple(
        (sum(c[j] for c in curves) / len(curves), sent * (j + 1) / CURVE) for j in range(CURVE)
    )


def replicate(
    config: SimConfig, seed: int, shares: Sequence[float] = SHARES, spans: Sequence[Span] = ()
) -> Figures:
    """One replication's figures (what a worker process computes)."""
    return Figures.of(simulate(config, seed, spans), shares)


def seeds(seed: int | None) -> Iterator[int]:
    rng = random.Random(seed)
    while True:
        yield rng.getrandbits(63)


@dataclass(frozen=True)
class Effort:
    """How a forecast replicates: ``replications`` runs (None: as many as fit ``budget``
    wall seconds, at least MIN_REPLICATIONS, at most MAX_REPLICATIONS), from ``seed``,
    banded at the ``band`` percentiles, on ``workers`` processes (None: every core)."""

    replications: int | None = None
    seed: int | None = None
    band: tuple[float, float] = (5.0, 95.0)
    budget: float = BUDGET
    workers: int | None = None
    shares: tuple[float, ...] = SHARES  # the shares of messages delivered it times

    def room(self, asked: int, started: float) -> bool:
        """May another replication be asked for, ``asked`` having been asked for since
        ``started`` (monotonic seconds)?"""
        if self.replications is not None:
            return asked < self.replications
        in_time = time.monotonic() - started < self.budget
        return asked < MAX_REPLICATIONS and (asked < MIN_REPLICATIONS or in_time)


Progress = Callable[[int], None]


def forecast(
    config: SimConfig,
    effort: Effort = Effort(),
    progress: Progress | None = None,
    spans: Sequence[Span] = (),
) -> Forecast:
    """Virtual runs of ``config`` as ``effort`` says, banded; ``spans``: when each sender
    joins and leaves (default: all from the start on)."""
    workers = max(
        1, min(effort.workers or os.cpu_count() or 1, effort.replications or MAX_REPLICATIONS)
    )
    if workers == 1 or config.num_messages < 2000:
        runs = _here(config, effort, progress, spans)
    else:
        runs = _spread(config, effort, workers, progress, spans)
    return Forecast.of(runs, effort.band)


def _here(
    config: SimConfig, effort: Effort, progress: Progress | None, spans: Sequence[Span]
) -> list[Figures]:
    runs: list[Figures] = []
    started = time.monotonic()
    for one in seeds(effort.seed):
        if not effort.room(len(runs), started):
            break
        runs.append(replicate(config, one, effort.shares, spans))
        if progress:
            progress(len(runs))
    return runs


def _spread(
    config: SimConfig,
    effort: Effort,
    workers: int,
    progress: Progress | None,
    spans: Sequence[Span],
) -> list[Figures]:
    """Replications in ``workers`` processes, in seed order (the same seed, the same
    forecast, however many workers)."""
    started = time.monotonic()
    found: dict[int, Figures] = {}
    pending: dict[Future[Figures], int] = {}
    numbered = enumerate(seeds(effort.seed))
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        while True:
            while len(pending) < workers and effort.room(len(found) + len(pending), started):
                number, one = next(numbered)
                pending[pool.submit(replicate, config, one, effort.shares, spans)] = number
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                found[pending.pop(future)] = future.result()
                if progress:
                    progress(len(found))
    return [found[n] for n in sorted(found)]
