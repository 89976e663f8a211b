"""The virtual model's forecast of the fleet the monitor sees (``common/virtual``).

The fleet is every sender with a known profile, from when it began serving until it left
(or on, while it is up or was at the end), with the run's messages, undeliverable share
and account cap. Its forecast, a few runs on the virtual clock, is what the monitor
predicts: the completion and its band, the rates over the run, each sender's rate. A
small run is forecast at once, in the monitor's process; a large one in a worker process
at the lowest priority, so the simulation it watches keeps the machine. A fleet that
changes (a sender joins or leaves) is forecast again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

from pydantic import ValidationError

from common.model import AccountCap, SenderProfile, SimConfig
from common.run import RunState
from common.virtual.forecast import Effort, Forecast, forecast
from common.virtual.run import Span
from monitor.figures.clock import Clock
from monitor.figures.fleet import SenderRow
from monitor.figures.health import DONE, UP

logger = logging.getLogger(__name__)

SMALL = 20_000  # messages: a run this small is forecast in a thread of this process
BUDGET = 2.0  # seconds a forecast spends on virtual runs past the first few
FINAL_WAIT = 120.0  # seconds the final report waits for a forecast under way
ROUND = 0.1  # simulated seconds: spans this close are one fleet (no new forecast)


@dataclass(frozen=True)
class Fleet:
    """The fleet to forecast: the run's config with the senders seen, their spans."""

    config: SimConfig
    spans: tuple[Span, ...]
    names: tuple[str, ...]  # the senders, in the config's order


def fleet_of(rows: Sequence[SenderRow], state: RunState, clock: Clock) -> Fleet | None:
    """The fleet of the senders ``rows`` with a readable profile and a heartbeat; None
    when there is none."""
    profiles, spans, names = [], [], []
    for row in rows:
        profile = _profile(row)
        if profile is None or row.up is None:
            continue
        start = round(max(clock.sim(row.up[0]), 0.0) / ROUND) * ROUND
        end = math.inf if row.status in UP or row.status == DONE else clock.sim(row.up[1])
        profiles.append(profile)
        spans.append((start, end if math.isinf(end) else round(end / ROUND) * ROUND))
        names.append(row.name)
    if not profiles:
        return None
    account = None
    if state.account_rate:
        account = AccountCap(max_rate=state.account_rate, burst=state.account_burst)
    config = SimConfig(
        num_messages=state.total,
        invalid_fraction=state.invalid_fraction,
        account=account,
        senders=profiles,
    )
    return Fleet(config, tuple(spans), tuple(names))


def _profile(row: SenderRow) -> SenderProfile | None:
    if not row.profile:
        return None
    try:
        return SenderProfile.model_validate(row.profile)
    except ValidationError:
        return None  # an older or foreign sender's profile: not forecast


def _nice() -> None:
    os.nice(19)  # the worker yields the machine to the simulation it forecasts


def _pool(messages: int) -> Executor:
    """A thread for a small run (no process to start; the loop keeps its turns); a worker
    process at the lowest priority for a large one."""
    if messages <= SMALL:
        return ThreadPoolExecutor(1, thread_name_prefix="forecast")
    return ProcessPoolExecutor(1, get_context("spawn"), initializer=_nice)


class Forecaster:
    """The latest forecast of the fleet last seen; ``update`` each report."""

    def __init__(self, budget: float = BUDGET) -> None:
        self.effort = Effort(seed=0, budget=budget, workers=1)
        self._fleet: Fleet | None = None  # the fleet forecast (or being forecast)
        self._seen: Fleet | None = None  # the fleet seen last
        self._latest: Forecast | None = None
        self._pending: tuple[Fleet, Future[Forecast]] | None = None
        self._pool: Executor | None = None

    def update(self, fleet: Fleet | None, now: bool = False) -> Forecast | None:
        """The forecast of ``fleet``, or None while it is under way (or no fleet). A
        large run's fleet is forecast once it is seen twice in a row (a fleet still
        joining is not worth a forecast), or at once when ``now``."""
        self._collect()
        small = fleet is not None and fleet.config.num_messages <= SMALL
        settled = now or small or fleet == self._seen
        self._seen = fleet
        if fleet is not None and fleet != self._fleet and settled:
            self._start(fleet)
        return self._latest if fleet is not None and fleet == self._fleet else None

    async def wait(self) -> None:
        """Wait (at most FINAL_WAIT seconds) for a forecast under way."""
        if self._pending is None:
            return
        try:
            await asyncio.wait_for(asyncio.wrap_future(self._pending[1]), FINAL_WAIT)
        except TimeoutError:
            logger.warning("no forecast of the fleet within %.0f s", FINAL_WAIT)
        except Exception as exc:
            logger.warning("the fleet's forecast failed: %s", exc)
        self._collect()

    def close(self) -> None:
        """Stop a forecast under way; safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _start(self, fleet: Fleet) -> None:
        self._fleet, self._latest = fleet, None
        if self._pending is not None:
            self._pending[1].cancel()  # one under way finishes, and is dropped
        if self._pool is None:
            self._pool = _pool(fleet.config.num_messages)
        future = self._pool.submit(forecast, fleet.config, self.effort, None, fleet.spans)
        self._pending = (fleet, future)

    def _collect(self) -> None:
        """Take a forecast that is done, if it is of the fleet last seen."""
        if self._pending is None or not self._pending[1].done():
            return
        fleet, future = self._pending
        self._pending = None
        if future.cancelled() or fleet != self._fleet:
            return
        if future.exception() is not None:
            logger.warning("the fleet's forecast failed: %s", future.exception())
            return
        self._latest = future.result()


@dataclass(frozen=True)
class Predicted:
    """What the forecast predicts at simulated time ``elapsed`` of the run."""

    completion: float | None  # from the run's start (None: never), mean of the virtual runs
    low: float | None  # the band of the completion (None: no band, the fluid estimate)
    high: float | None
    rate: float  # deliveries per simulated second over the run so far
    now: float | None  # ... at this moment; None once the run is complete
    finish: float | None  # seconds left; None once the run is complete
    expected: tuple[tuple[float, float], ...]  # messages delivered by then, over time
    steps: tuple[tuple[float, float], ...]  # the delivery rate over time, as steps
    by_sender: dict[str, float]  # each sender's deliveries per simulated second


def predicted(found: Forecast, fleet: Fleet, elapsed: float, complete: bool) -> Predicted:
    done = found.completion
    window = max(done.mean / 100, 1e-9)
    around = max(elapsed - window, 0.0), elapsed + window
    now = (found.delivered_by(around[1]) - found.delivered_by(around[0])) / (around[1] - around[0])
    return Predicted(
        done.mean,
        done.low,
        done.high,
        found.delivered_by(elapsed) / elapsed if elapsed > 0 else 0.0,
        None if complete else now,
        None if complete else max(done.mean - elapsed, 0.0),
        found.curve,
        _steps(found.curve),
        {
            name: sent / done.mean if done.mean > 0 else math.inf
            for name, sent in zip(fleet.names, found.by_sender, strict=True)
        },
    )


def _steps(curve: Sequence[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """The rate between the curve's points, as a step line."""
    found: list[tuple[float, float]] = []
    before = (0.0, 0.0)
    for t, n in curve:
        if t > before[0]:
            rate = (n - before[1]) / (t - before[0])
            found += [(before[0], rate), (t, rate)]
            before = (t, n)
    return tuple(found)
