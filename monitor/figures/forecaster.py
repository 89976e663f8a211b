"""The virtual model's forecast of the fleet the monitor sees (``common/virtual``).

The fleet is every sender with a known profile, from when it began serving until it left
(or on, while it is up or was at the end), with the run's messages, undeliverable share
and account cap. Its forecast, a few runs on the virtual clock, is what the monitor
predicts: the completion and its band, the rates over the run, each sender's rate. It
runs in a worker process at the lowest priority, so the simulation it watches keeps the
machine (``Job``). A fleet that changes (a sender joins or leaves) is forecast again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from pydantic import ValidationError

from common.model import AccountCap, SenderProfile, SimConfig
from common.run import RunState
from common.virtual.forecast import Effort, Forecast, forecast
from common.virtual.run import Span
from monitor.figures.clock import Clock
from monitor.figures.fleet import SenderRow
from monitor.figures.health import DONE, UP

logger = logging.getLogger(__name__)

SMALL = 20_000  # messages: a run this small is forecast at once (no settling first)
BUDGET = 2.0  # seconds a forecast spends on virtual runs past the first few
FINAL_WAIT = 120.0  # seconds the final report waits for a forecast under way
POLL = 0.05  # seconds between looks at a forecast under way
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


def _in_worker(send: Connection, fleet: Fleet, effort: Effort) -> None:
    """A worker process's job: forecast ``fleet`` at the lowest priority, send it back.
    A Ctrl-C reaches the whole foreground process group: the worker leaves it to the
    monitor, which terminates it when it is no longer wanted."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(19)  # the worker yields the machine to the simulation it forecasts
    send.send(forecast(fleet.config, effort, None, fleet.spans))


class Job:
    """One forecast under way: in a worker process at the lowest priority (terminated
    when no longer wanted, so nothing outlives the monitor), or in a thread ``in_thread``
    (a monitor on the in-process embedded Redis, where everything shares one process
    anyway). Never a thread beside senders: the forecast would hold the interpreter
    from them (it stalled a fast sender of ``sms-sim run`` by up to 0.7 s)."""

    def __init__(self, fleet: Fleet, effort: Effort, in_thread: bool = False) -> None:
        self.fleet = fleet
        self._thread: Future[Forecast] | None = None
        self._process: BaseProcess | None = None
        if in_thread:
            pool = ThreadPoolExecutor(1, thread_name_prefix="forecast")
            self._thread = pool.submit(forecast, fleet.config, effort, None, fleet.spans)
            pool.shutdown(wait=False)
            return
        context = get_context("spawn")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_in_worker, args=(send, fleet, effort), daemon=True)
        self._process.start()
        send.close()

    def done(self) -> bool:
        if self._thread is not None:
            return self._thread.done()
        if self._process is None:
            return True  # stopped
        return self._receive.poll() or not self._process.is_alive()

    def result(self) -> Forecast | None:
        """The forecast of a job that is done; None when it failed or was stopped."""
        try:
            if self._thread is not None:
                return self._thread.result()
            if self._process is not None and self._receive.poll():
                found: Forecast = self._receive.recv()
                return found
            return None
        except EOFError:  # the worker ended without a forecast (terminated, or killed)
            logger.debug("the forecast's worker ended without one")
            return None
        except Exception as exc:  # a failed forecast leaves the fluid estimate
            logger.warning("the fleet's forecast failed: %s", exc)
            return None
        finally:
            self.stop()

    def stop(self) -> None:
        """Drop the job: a worker process is terminated (a thread finishes its runs)."""
        if self._thread is not None:
            self._thread.cancel()
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            process.join(1)
            self._receive.close()


class Forecaster:
    """The latest forecast of the fleet last seen; ``update`` each report."""

    def __init__(self, budget: float = BUDGET, in_thread: bool = False) -> None:
        self.effort = Effort(seed=0, budget=budget, workers=1)
        self.in_thread = in_thread  # forecast in a thread, not a worker process (see Job)
        self._fleet: Fleet | None = None  # the fleet forecast (or being forecast)
        self._seen: Fleet | None = None  # the fleet seen last
        self._latest: Forecast | None = None
        self._job: Job | None = None

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
        waited = 0.0
        while self._job is not None and not self._job.done() and waited < FINAL_WAIT:
            await asyncio.sleep(POLL)
            waited += POLL
        if self._job is not None and not self._job.done():
            logger.warning("no forecast of the fleet within %.0f s", FINAL_WAIT)
        self._collect()

    def close(self) -> None:
        """Stop a forecast under way; safe to call twice."""
        job, self._job = self._job, None
        if job is not None:
            job.stop()

    def _start(self, fleet: Fleet) -> None:
        self.close()  # one under way is of another fleet
        self._fleet, self._latest = fleet, None
        self._job = Job(fleet, self.effort, self.in_thread)

    def _collect(self) -> None:
        """Take a forecast that is done, if it is of the fleet last seen."""
        if self._job is None or not self._job.done():
            return
        job, self._job = self._job, None
        found = job.result()
        if found is not None and job.fleet == self._fleet:
            self._latest = found


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
