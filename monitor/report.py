"""Every figure a view shows, computed once per snapshot, and the one table of labels.

``build(snap)`` makes a ``Report``: totals, rates and finish times, the predictions,
percentiles, the failure ratio, one row per sender, the run's state, its throughput and
its deliveries over time. The plain line, the final text, the live dashboard, the summary
table, the HTML report and the JSON summary only format it, and they name each figure
from ``LABELS``.

Times and rates are in the run's simulated time (``monitor/clock.py``): with a time scale
of 1, the default, simulated and real time are one. In a compressed run each view says
so: a figure shown with its real counterpart beside it (elapsed, rates, finish times)
says ``simulated`` in its value, any other figure in its label (``Label.of``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from common.histogram import LogHistogram
from monitor import figures as fig
from monitor.clock import Clock
from monitor.fleet import SenderRow, fleet
from monitor.health import STATUSES
from monitor.model import delivered_curve, steps
from monitor.quantiles import QUANTILES, Percentiles
from monitor.rates import rates
from monitor.series import Series
from monitor.snapshot import Snapshot
from monitor.svg import Point

RUNNING = "running"
COMPLETE = "complete"
STOPPED = "stopped"


@dataclass(frozen=True)
class Label:
    text: str  # what a summary says
    short: str  # what the dashboard says, where room is short
    plain: str  # the key in plain key=value lines ("": not in them)
    scaled: str = ""  # the text in a compressed run ("": the text)
    scaled_short: str = ""  # the short text in a compressed run ("": the short text)

    def of(self, compressed: bool, short: bool = False) -> str:
        """The text (``short``: the short one) for a run compressed or not."""
        if short:
            return self.scaled_short if compressed and self.scaled_short else self.short
        return self.scaled if compressed and self.scaled else self.text


def _label(
    text: str, short: str = "", plain: str = "", scaled: str = "", scaled_short: str = ""
) -> Label:
    if not short:  # one text for both: so in a compressed run too
        scaled_short = scaled_short or scaled
    return Label(text, short or text, plain, scaled, scaled_short)


SIMULATED = " (simulated)"

LABELS: dict[str, Label] = {
    "state": _label("state"),
    "elapsed": _label("elapsed", plain="elapsed"),
    "sent": _label("sent (messages delivered)", "sent", "sent"),
    "failed": _label("failed attempts", plain="failed_attempts"),
    "attempts": _label("attempts", plain="attempts"),
    "failure_ratio": _label("failure ratio (failed / attempts)", "failure ratio", "fail_ratio"),
    "avg_attempt_time": _label(
        "avg time/attempt", plain="avg_attempt", scaled="avg time/attempt" + SIMULATED
    ),
    "avg_time_per_message": _label(
        "avg time/message (incl. retries)",
        "avg time/message",
        "avg_per_msg",
        "avg time/message (simulated, incl. retries)",
        "avg time/message" + SIMULATED,
    ),
    "rate": _label("rate (last 10 s)", plain="rate", scaled="rate (last 10 s real)"),
    "overall_rate": _label("overall rate", plain="avg_rate"),
    "predicted_rate": _label(
        "predicted overall rate (the fleet as it was)", "predicted overall", "pred_rate"
    ),
    "predicted_now": _label("predicted rate (senders up now)", "predicted now", "pred_now"),
    "eta": _label(
        "ETA (at the rate of the last 10 s)",
        "ETA",
        "eta",
        "ETA (at the rate of the last 10 s real)",
    ),
    "predicted_finish": _label("predicted finish (senders up now)", "predicted finish"),
    "predicted_completion": _label(
        "predicted completion (from the profiles)", "predicted completion"
    ),
    "delivery_time": _label(
        "delivery time (from the run's start)",
        "delivery time",
        "delivery",
        "delivery time (simulated, from the run's start)",
    ),
    "queue_wait": _label(
        "queue wait + send (enqueue to delivered)",
        "queue wait + send",
        "wait",
        "queue wait + send (simulated, enqueue to delivered)",
    ),
    "attempt_time": _label("attempt time", plain="attempt", scaled="attempt time" + SIMULATED),
    "duplicates": _label("duplicates suppressed", plain="dups"),
    "abandoned": _label("abandoned", plain="abandoned"),
    "undeliverable": _label("undeliverable (permanent failures)", "undeliverable", "undeliverable"),
    "dead_letters": _label("dead letters", plain="dead"),
}
PERCENTILE_FIGURES = ("delivery_time", "queue_wait", "attempt_time")

STATES = {
    RUNNING: "running",
    COMPLETE: "complete",
    STOPPED: "stopped before completion",
}

Line = tuple[Point, ...]


@dataclass(frozen=True)
class Report:
    run: str
    url: str  # the Redis URL, password masked
    now: float  # epoch seconds of the snapshot
    created: float  # epoch seconds the run was created (0: unknown)
    complete: bool
    scale: float  # the run's time scale: simulated seconds per real second
    elapsed: float  # simulated seconds since the run's start (to its end once complete)
    elapsed_real: float  # the same in real seconds
    total: int
    sent: int
    failed: int  # failed attempts
    attempts: int
    duplicates: int
    abandoned: int
    undeliverable: int  # messages to undeliverable numbers, settled apart
    dead_letters: int
    failure_ratio: float | None  # failed / attempts, None before the first attempt
    avg_attempt_time: float
    avg_time_per_message: float
    rate: float  # msg/s over the last 10 s
    overall_rate: float  # msg/s since the run was created
    predicted_rate: float  # msg/s the fleet predicts over the run so far (inf: unbounded)
    predicted_now: float | None  # msg/s the senders up now predict; None once complete
    remaining: int
    eta: float | None
    predicted_eta: float | None
    predicted_completion: float | None  # seconds from the start the fleet predicts; None: never
    delivery_time: Percentiles | None  # from the run's start; None: results not all seen
    queue_wait: Percentiles  # enqueue to delivered
    attempt_time: Percentiles
    senders: tuple[SenderRow, ...]
    statuses: dict[str, int]  # senders by status
    throughput: Line  # (seconds since the start, msg/s), by the results' ts
    predicted: Line  # the fleet's predicted msg/s over time, as steps
    charted: int  # deliveries the throughput covers (fewer than sent: an old checkpoint)
    delivered: Line  # (seconds since the start, messages delivered by then)
    delivered_by: tuple[tuple[str, Line], ...]  # the same per sender, by name
    expected: Line  # messages delivered by then as the fleet predicts (empty: unbounded)

    @property
    def compressed(self) -> bool:
        """Simulated time runs at another pace than real time: the views say which is which."""
        return self.scale != 1.0

    def label(self, figure: str, short: bool = False) -> str:
        """The label of ``figure`` in this report's views."""
        return LABELS[figure].of(self.compressed, short)

    def state(self, final: bool) -> str:
        """``running`` or ``complete`` while watching; ``stopped`` at the end if not complete."""
        if self.complete:
            return COMPLETE
        return STOPPED if final else RUNNING

    def totals(self, secs: Callable[[float], str] = fig.secs) -> list[tuple[str, str]]:
        """The final summary's figures after its times, as (figure, text); ``secs``
        writes the mean times."""
        scale = self.scale
        return [
            ("predicted_completion", fig.left(self.predicted_completion, scale)),
            ("sent", f"{self.sent} / {self.total}"),
            ("failed", str(self.failed)),
            ("attempts", str(self.attempts)),
            ("failure_ratio", fig.ratio(self.failure_ratio)),
            ("avg_attempt_time", secs(self.avg_attempt_time)),
            ("avg_time_per_message", secs(self.avg_time_per_message)),
            ("overall_rate", fig.rate(self.overall_rate, scale)),
            ("predicted_rate", fig.rate(self.predicted_rate, scale)),
            ("duplicates", str(self.duplicates)),
            ("abandoned", str(self.abandoned)),
            ("undeliverable", str(self.undeliverable)),
            ("dead_letters", str(self.dead_letters)),
        ]

    def percentiles(self, figure: str) -> Percentiles | None:
        """The percentiles of ``figure``, one of PERCENTILE_FIGURES."""
        return {
            "delivery_time": self.delivery_time,
            "queue_wait": self.queue_wait,
            "attempt_time": self.attempt_time,
        }[figure]


def build(snap: Snapshot) -> Report:
    s = snap.stats
    clock = snap.clock
    rows = tuple(fleet(snap))
    r = rates(snap, rows, clock)
    status = Counter(row.status for row in rows)
    elapsed = clock.span(snap.elapsed)
    return Report(
        run=snap.run,
        url=snap.url,
        now=snap.now,
        created=snap.created,
        complete=snap.state.complete,
        scale=clock.scale,
        elapsed=elapsed,
        elapsed_real=snap.elapsed,
        total=snap.state.total,
        sent=s.sent,
        failed=s.failed,
        attempts=s.attempts,
        duplicates=s.duplicates,
        abandoned=snap.state.abandoned,
        undeliverable=snap.state.undeliverable,
        dead_letters=snap.state.dead_letters,
        failure_ratio=s.failed / s.attempts if s.attempts else None,
        avg_attempt_time=s.avg_attempt_time,
        avg_time_per_message=s.avg_time_per_message,
        rate=r.current,
        overall_rate=r.overall,
        predicted_rate=r.predicted,
        predicted_now=r.predicted_now,
        remaining=r.remaining,
        eta=r.eta,
        predicted_eta=r.predicted_eta,
        predicted_completion=r.predicted_completion,
        delivery_time=_delivery_time(snap, clock),
        queue_wait=Percentiles.of(s.latency).times(clock.scale),
        attempt_time=Percentiles.of(_all_attempts(rows)),
        senders=rows,
        statuses={name: status[name] for name in STATUSES},
        throughput=_throughput(s.series, clock, snap.end),
        predicted=tuple(steps(r.segments, 0.0, elapsed)),
        charted=s.series.total,
        delivered=_delivered(s.series, clock, elapsed),
        delivered_by=tuple((row.name, _delivered(row.series, clock, elapsed)) for row in rows),
        expected=tuple(delivered_curve(r.segments, snap.state.total, elapsed)),
    )


def _throughput(series: Series, clock: Clock, end: float) -> Line:
    """Deliveries per simulated second over simulated time."""
    points = series.rates(clock.origin, end)
    return tuple((clock.span(x), clock.rate(y)) for x, y in points)


def _delivered(series: Series, clock: Clock, elapsed: float) -> Line:
    """Deliveries so far over simulated time, to the end of the run's window."""
    points = series.cumulative(clock.origin)
    return tuple((min(clock.span(x), elapsed), n) for x, n in points)


def _delivery_time(snap: Snapshot, clock: Clock) -> Percentiles | None:
    """Simulated seconds from the run's start until 50, 95 and 99 % of the delivered
    messages had arrived; None when the run's start is unknown or not every delivery is
    in the series."""
    series = snap.stats.series
    if not snap.created or series.total < snap.stats.sent:
        return None
    return Percentiles(*(clock.span(series.time_to(q / 100, snap.created)) for q in QUANTILES))


def _all_attempts(rows: tuple[SenderRow, ...]) -> LogHistogram:
    merged = LogHistogram()
    for row in rows:
        merged.merge(row.durations)
    return merged
