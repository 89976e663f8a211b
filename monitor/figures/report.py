"""Every figure of one moment, computed once: the ``Report`` every view formats.

``build(snap)`` makes it from a snapshot: totals, rates and finish times, the
predictions, percentiles (the whole ladder, ``monitor/tally/quantiles.py``), the failure
ratio, one row per sender, the run's state, its throughput and its deliveries over time,
and in the final report the failures by reason. Numbers only: how each figure is named and
read is in the catalogue (``monitor/figures/catalogue.py``), how it is written in the
views (``monitor/views``).

Times and rates are in the run's simulated time (``monitor/figures/clock.py``): with a
time scale of 1, the default, simulated and real time are one. A figure not known yet
(a mean before the first attempt, a finish time with no rate) is None.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from common.histogram import LogHistogram
from monitor.figures.clock import Clock
from monitor.figures.fleet import SenderRow, fleet
from monitor.figures.forecaster import Forecaster, Predicted, fleet_of, predicted
from monitor.figures.health import BEHIND, STATUSES
from monitor.figures.prediction import delivered_curve, steps
from monitor.figures.rates import Rates, rates
from monitor.figures.snapshot import Snapshot
from monitor.figures.thresholds import Verdict
from monitor.tally.failures import Failure
from monitor.tally.quantiles import SHARES, Percentiles
from monitor.tally.series import Series
from monitor.tally.stats import Stats

RUNNING = "running"
COMPLETE = "complete"
STOPPED = "stopped"

STATES = {
    RUNNING: "running",
    COMPLETE: "complete",
    STOPPED: "stopped before completion",
}

Point = tuple[float, float]
Line = tuple[Point, ...]


@dataclass(frozen=True)
class Report:
    run: str
    url: str  # the Redis URL, password masked
    now: float  # epoch seconds of the snapshot
    created: float  # epoch seconds the run was created (0: unknown)
    finished_at: float | None  # epoch seconds of the run's last result; None: not complete
    state: str  # RUNNING, COMPLETE, or STOPPED (the final report of a run not complete)
    scale: float  # the run's time scale: simulated seconds per real second
    elapsed: float  # simulated seconds since the run's start (to its end once complete)
    elapsed_real: float  # the same in real seconds
    total: int
    sent: int
    remaining: int  # neither delivered, abandoned nor undeliverable
    rate: float  # msg/s over the last 10 s
    overall_rate: float  # msg/s since the run was created
    predicted_rate: float  # msg/s the fleet predicts over the run so far (inf: unbounded)
    predicted_now: float | None  # msg/s the senders up now predict; None once complete
    eta: float | None  # seconds left at the measured rate
    predicted_finish: float | None  # seconds left as the senders up now predict
    predicted_completion: float | None  # seconds from the start the fleet predicts; None: never
    predicted_low: float | None  # the band of the virtual runs' completions (None: no band)
    predicted_high: float | None
    in_band: str | None  # complete: "yes" when its completion is within the band, else "no"
    failed: int  # failed attempts
    attempts: int
    failure_ratio: float | None  # failed / attempts, None before the first attempt
    avg_attempt_time: float | None  # None before the first attempt
    avg_time_per_message: float | None  # None before the first delivery
    delivery_time: Percentiles | None  # from the run's start; None: results not all seen
    queue_wait: Percentiles | None  # enqueue to delivered; None before the first delivery
    attempt_time: Percentiles | None  # None before the first attempt
    avg_lateness: float | None  # simulated s an attempt ended after it was due, on average
    lateness: Percentiles | None  # the same, None before the first attempt (or not all seen)
    duplicates: int
    abandoned: int
    undeliverable: int  # messages to undeliverable numbers, settled apart
    dead_letters: int
    senders: tuple[SenderRow, ...]
    statuses: dict[str, int]  # senders by status
    queue_wait_times: LogHistogram  # the distribution behind queue_wait (real seconds)
    throughput: Line  # (seconds since the start, msg/s), by the results' ts
    predicted: Line  # the fleet's predicted msg/s over time, as steps
    charted: int  # deliveries the throughput covers (fewer than sent: an old checkpoint)
    delivered: Line  # (seconds since the start, messages delivered by then)
    delivered_by: tuple[tuple[str, Line], ...]  # the same per sender, by name
    expected: Line  # messages delivered by then as the fleet predicts (empty: unbounded)
    # queue wait + send of the deliveries in each step of the throughput chart that has
    # any: (seconds since the start, mean, largest), simulated seconds
    waits: tuple[tuple[float, float, float], ...] = ()
    # per sender, by name: its series' bucket width and (start, deliveries) of each bucket
    # holding any, simulated seconds since the start
    buckets_by: tuple[tuple[str, float, Line], ...] = ()
    # the drill's goals (``--threshold``, ``thresholds:``), judged on the final report
    thresholds: tuple[Verdict, ...] = ()
    # the failures table: dead-stream entries by kind and reason, in the final report
    # (``monitor/follow/dead.py``); None in the others, or when they could not be read
    failures: tuple[Failure, ...] | None = None

    @property
    def complete(self) -> bool:
        return self.state == COMPLETE

    @property
    def distorted(self) -> bool:
        """Lateness distorted the run: 1 % of its attempts ended ``BEHIND`` real seconds
        or more after they were due. The simulator fell behind its schedules (what the
        monitor warns of as it happens, ``monitor/follow/stall.py``): past that they slip,
        so the run is slower than its fleet would be, and the times it recorded run late.
        Less is absorbed: each attempt starts when the one before was due to end."""
        return self.lateness is not None and self.lateness.p99 / self.scale >= BEHIND

    @property
    def compressed(self) -> bool:
        """Simulated time runs at another pace than real time: the views say which is which."""
        return self.scale != 1.0


def build(snap: Snapshot, final: bool = False, forecaster: Forecaster | None = None) -> Report:
    """The report of ``snap``; ``final``: the run's last (a run not complete then stopped).
    The predictions come from ``forecaster``'s virtual runs of the fleet (the fluid
    estimate of ``monitor/figures/rates.py`` without one, or while it is under way)."""
    s = snap.stats
    clock = snap.clock
    rows = tuple(fleet(snap))
    r = rates(snap, rows, clock)
    elapsed = clock.span(snap.elapsed)
    p = _predicted(snap, rows, r, forecaster, final)
    if p.by_sender:
        rows = tuple(replace(row, rate=p.by_sender.get(row.name, row.rate)) for row in rows)
    status = Counter(row.status for row in rows)
    attempts = _all_attempts(rows)
    return Report(
        run=snap.run,
        url=snap.url,
        now=snap.now,
        created=snap.created,
        finished_at=snap.finished_at,
        state=_state(snap.state.complete, final),
        scale=clock.scale,
        elapsed=elapsed,
        elapsed_real=snap.elapsed,
        total=snap.state.total,
        sent=s.sent,
        remaining=r.remaining,
        rate=r.current,
        overall_rate=r.overall,
        predicted_rate=p.rate,
        predicted_now=p.now,
        eta=r.eta,
        predicted_finish=p.finish,
        predicted_completion=p.completion,
        predicted_low=p.low,
        predicted_high=p.high,
        in_band=_in_band(snap.state.complete, elapsed, p),
        failed=s.failed,
        attempts=s.attempts,
        failure_ratio=s.failed / s.attempts if s.attempts else None,
        avg_attempt_time=s.avg_attempt_time if s.attempts else None,
        avg_time_per_message=s.avg_time_per_message if s.sent else None,
        delivery_time=_delivery_time(snap, clock),
        queue_wait=Percentiles.of(s.latency).times(clock.scale) if s.latency.count else None,
        attempt_time=Percentiles.of(attempts) if attempts.count else None,
        avg_lateness=_avg_lateness(s),
        lateness=_lateness(s),
        duplicates=s.duplicates,
        abandoned=snap.state.abandoned,
        undeliverable=snap.state.undeliverable,
        dead_letters=snap.state.dead_letters,
        senders=rows,
        statuses={name: status[name] for name in STATUSES},
        queue_wait_times=s.latency,
        throughput=_throughput(s.series, clock, snap.end),
        predicted=p.steps,
        charted=s.series.total,
        delivered=_delivered(s.series, clock, elapsed),
        delivered_by=tuple((row.name, _delivered(row.series, clock, elapsed)) for row in rows),
        expected=p.expected,
        waits=_waits(s.series, clock, snap.end),
        buckets_by=tuple((row.name, *_buckets(row.series, clock)) for row in rows),
        failures=snap.failures,
    )


def _predicted(
    snap: Snapshot,
    rows: tuple[SenderRow, ...],
    r: Rates,
    forecaster: Forecaster | None,
    final: bool,
) -> Predicted:
    """The forecast's predictions when there is one, else the fluid estimate's."""
    elapsed = snap.clock.span(snap.elapsed)
    if forecaster is not None:
        seen = fleet_of(rows, snap.state, snap.clock)
        found = forecaster.update(seen, now=final and snap.state.complete)
        if found is not None and seen is not None:
            return predicted(found, seen, elapsed, snap.state.complete)
    return Predicted(
        completion=r.predicted_completion,
        low=None,
        high=None,
        rate=r.predicted,
        now=r.predicted_now,
        finish=r.predicted_finish,
        expected=tuple(delivered_curve(r.segments, snap.state.total, elapsed)),
        steps=tuple(steps(r.segments, 0.0, elapsed)),
        by_sender={},
    )


def _in_band(complete: bool, elapsed: float, p: Predicted) -> str | None:
    """``yes`` when a complete run took a time within the forecast's band, ``no`` when
    not; None while running, or with no band."""
    if not complete or p.low is None or p.high is None:
        return None
    return "yes" if p.low <= elapsed <= p.high else "no"


def _state(complete: bool, final: bool) -> str:
    """``running`` or ``complete`` while watching; ``stopped`` at the end if not complete."""
    if complete:
        return COMPLETE
    return STOPPED if final else RUNNING


def _throughput(series: Series, clock: Clock, end: float) -> Line:
    """Deliveries per simulated second over simulated time."""
    points = series.rates(clock.origin, end)
    return tuple((clock.span(x), clock.rate(y)) for x, y in points)


def _waits(series: Series, clock: Clock, end: float) -> tuple[tuple[float, float, float], ...]:
    """Queue wait + send over simulated time, in the throughput chart's steps."""
    points = series.wait_steps(clock.origin, end)
    return tuple((clock.span(x), clock.span(mean), clock.span(most)) for x, mean, most in points)


def _buckets(series: Series, clock: Clock) -> tuple[float, Line]:
    """A sender's deliveries per bucket of its series, in simulated time."""
    found = tuple((clock.sim(start), float(n)) for start, n in series.buckets())
    return clock.span(series.width), found


def _delivered(series: Series, clock: Clock, elapsed: float) -> Line:
    """Deliveries so far over simulated time, to the end of the run's window."""
    points = series.cumulative(clock.origin)
    return tuple((min(clock.span(x), elapsed), n) for x, n in points)


def _delivery_time(snap: Snapshot, clock: Clock) -> Percentiles | None:
    """Simulated seconds from the run's start until the first delivery, 50, 66, ... 99.9 %
    of the delivered messages, and the last had arrived (the nearest rank, as every
    percentile); None when the run's start is unknown or not every delivery is in the
    series."""
    series = snap.stats.series
    if not snap.created or not snap.stats.sent or series.total < snap.stats.sent:
        return None
    return Percentiles(*(clock.span(t) for t in series.times_to(SHARES, snap.created)))


def _avg_lateness(stats: Stats) -> float | None:
    attempts = stats.attempts
    return sum(s.late_total for s in stats.senders.values()) / attempts if attempts else None


def _lateness(stats: Stats) -> Percentiles | None:
    """How late the fleet's attempts ended (simulated seconds); None before the first
    attempt, or when some were counted by a monitor that kept no lateness."""
    merged = LogHistogram()
    for seen in stats.senders.values():
        merged.merge(seen.lateness)
    if not stats.attempts or merged.count < stats.attempts:
        return None
    return Percentiles.of(merged)


def _all_attempts(rows: tuple[SenderRow, ...]) -> LogHistogram:
    merged = LogHistogram()
    for row in rows:
        merged.merge(row.attempt_times)
    return merged
