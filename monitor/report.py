"""Every figure a view shows, computed once per snapshot, and the one table of labels.

``build(snap)`` makes a ``Report``: totals, rates and finish times, the predictions,
percentiles, the failure ratio, one row per sender, the run's state and its throughput
over time. The plain line, the final text, the live dashboard, the summary table, the
HTML report and the JSON summary only format it, and they name each figure from
``LABELS``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from common.histogram import LogHistogram
from monitor.fleet import SenderRow, fleet
from monitor.health import STATUSES
from monitor.quantiles import QUANTILES, Percentiles
from monitor.rates import predicted_steps, rates
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


def _label(text: str, short: str = "", plain: str = "") -> Label:
    return Label(text, short or text, plain)


LABELS: dict[str, Label] = {
    "state": _label("state"),
    "elapsed": _label("elapsed", plain="elapsed"),
    "sent": _label("sent (messages delivered)", "sent", "sent"),
    "failed": _label("failed attempts", plain="failed_attempts"),
    "attempts": _label("attempts", plain="attempts"),
    "failure_ratio": _label("failure ratio (failed / attempts)", "failure ratio", "fail_ratio"),
    "avg_attempt_time": _label("avg time/attempt", plain="avg_attempt"),
    "avg_time_per_message": _label(
        "avg time/message (incl. retries)", "avg time/message", "avg_per_msg"
    ),
    "rate": _label("rate (last 10 s)", plain="rate"),
    "overall_rate": _label("overall rate", plain="avg_rate"),
    "predicted_rate": _label(
        "predicted overall rate (the fleet as it was)", "predicted overall", "pred_rate"
    ),
    "predicted_now": _label("predicted rate (senders up now)", "predicted now", "pred_now"),
    "eta": _label("ETA (at the rate of the last 10 s)", "ETA", "eta"),
    "predicted_finish": _label("predicted finish (senders up now)", "predicted finish"),
    "delivery_time": _label("delivery time (from the run's start)", "delivery time", "delivery"),
    "queue_wait": _label("queue wait + send (enqueue to delivered)", "queue wait + send", "wait"),
    "attempt_time": _label("attempt time", plain="attempt"),
    "duplicates": _label("duplicates suppressed", plain="dups"),
    "abandoned": _label("abandoned", plain="abandoned"),
    "dead_letters": _label("dead letters", plain="dead"),
}
PERCENTILE_FIGURES = ("delivery_time", "queue_wait", "attempt_time")

STATES = {
    RUNNING: "running",
    COMPLETE: "complete",
    STOPPED: "stopped before completion",
}


@dataclass(frozen=True)
class Report:
    run: str
    url: str  # the Redis URL, password masked
    now: float  # epoch seconds of the snapshot
    created: float  # epoch seconds the run was created (0: unknown)
    complete: bool
    elapsed: float
    total: int
    sent: int
    failed: int  # failed attempts
    attempts: int
    duplicates: int
    abandoned: int
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
    delivery_time: Percentiles | None  # from the run's start; None: results not all seen
    queue_wait: Percentiles  # enqueue to delivered
    attempt_time: Percentiles
    senders: tuple[SenderRow, ...]
    statuses: dict[str, int]  # senders by status
    throughput: tuple[Point, ...]  # (seconds since the start, msg/s), by the results' ts
    predicted: tuple[Point, ...]  # the fleet's predicted msg/s over time, as steps
    charted: int  # deliveries the throughput covers (fewer than sent: an old checkpoint)

    def state(self, final: bool) -> str:
        """``running`` or ``complete`` while watching; ``stopped`` at the end if not complete."""
        if self.complete:
            return COMPLETE
        return STOPPED if final else RUNNING

    def percentiles(self, figure: str) -> Percentiles | None:
        """The percentiles of ``figure``, one of PERCENTILE_FIGURES."""
        return {
            "delivery_time": self.delivery_time,
            "queue_wait": self.queue_wait,
            "attempt_time": self.attempt_time,
        }[figure]


def build(snap: Snapshot) -> Report:
    s = snap.stats
    rows = tuple(fleet(snap))
    r = rates(snap, rows)
    status = Counter(row.status for row in rows)
    start, end = snap.created or snap.end, snap.end
    return Report(
        run=snap.run,
        url=snap.url,
        now=snap.now,
        created=snap.created,
        complete=snap.state.complete,
        elapsed=snap.elapsed,
        total=snap.state.total,
        sent=s.sent,
        failed=s.failed,
        attempts=s.attempts,
        duplicates=s.duplicates,
        abandoned=snap.state.abandoned,
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
        delivery_time=_delivery_time(snap),
        queue_wait=Percentiles.of(s.latency),
        attempt_time=Percentiles.of(_all_attempts(rows)),
        senders=rows,
        statuses={name: status[name] for name in STATUSES},
        throughput=tuple(s.series.rates(start, end)),
        predicted=tuple(predicted_steps(rows, start, end)),
        charted=s.series.total,
    )


def _delivery_time(snap: Snapshot) -> Percentiles | None:
    """Seconds from the run's start until 50, 95 and 99 % of the delivered messages had
    arrived; None when the run's start is unknown or not every delivery is in the series."""
    series = snap.stats.series
    if not snap.created or series.total < snap.stats.sent:
        return None
    return Percentiles(*(series.time_to(q / 100, snap.created) for q in QUANTILES))


def _all_attempts(rows: tuple[SenderRow, ...]) -> LogHistogram:
    merged = LogHistogram()
    for row in rows:
        merged.merge(row.durations)
    return merged
