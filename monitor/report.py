"""Every figure a view shows, computed once per snapshot, and the one table of labels.

``build(snap)`` makes a ``Report``: totals, rates and finish times, predictions,
percentiles, the failure ratio, one row per sender and the run's state. The plain line,
the final text, the live dashboard, the summary table, the HTML report and the JSON
summary only format it, and they name each figure from ``LABELS``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

from common.histogram import LogHistogram
from monitor.fleet import SenderRow, fleet
from monitor.health import GONE, IDLE, LIVE
from monitor.rates import predicted_rate, rates
from monitor.snapshot import Snapshot
from monitor.svg import Point

QUANTILES = (50, 95, 99)

RUNNING = "running"
COMPLETE = "complete"
STOPPED = "stopped"


@dataclass(frozen=True)
class Label:
    text: str  # what a summary says
    short: str  # what the dashboard says, where room is short
    plain: str  # the key in plain key=value lines


def _label(text: str, short: str = "", plain: str = "") -> Label:
    return Label(text, short or text, plain)


LABELS: dict[str, Label] = {
    "elapsed": _label("elapsed", plain="elapsed"),
    "sent": _label("sent (messages delivered)", "sent (messages)", "sent"),
    "failed": _label("failed attempts", plain="failed_attempts"),
    "attempts": _label("attempts", plain="attempts"),
    "failure_ratio": _label("failure ratio", plain="fail_ratio"),
    "avg_attempt_time": _label("avg time/attempt", plain="avg_attempt"),
    "avg_time_per_message": _label(
        "avg time/message (incl. retries)", "avg time/message", "avg_per_msg"
    ),
    "rate": _label("rate (last 10 s)", plain="rate"),
    "overall_rate": _label("overall rate", plain="avg_rate"),
    "predicted_rate": _label("predicted rate (senders up)", "predicted rate", "pred_rate"),
    "predicted_all": _label("predicted rate (every sender seen)"),
    "eta": _label("ETA", plain="eta"),
    "predicted_finish": _label("predicted finish"),
    "remaining": _label("remaining"),
    "latency": _label("latency p50 / p95 / p99 (enqueue to delivered)", "latency"),
    "duplicates": _label("duplicates suppressed", plain="dups"),
    "abandoned": _label("abandoned", plain="abandoned"),
    "dead_letters": _label("dead letters", plain="dead"),
    "state": _label("state"),
}

STATES = {
    RUNNING: "running",
    COMPLETE: "complete",
    STOPPED: "stopped before completion",
}


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, hist: LogHistogram) -> Percentiles:
        return cls(*(hist.quantile(q / 100) for q in QUANTILES))

    def items(self) -> tuple[tuple[str, float], ...]:
        """(``p50``, value), (``p95``, value), (``p99``, value)."""
        return tuple(zip(("p50", "p95", "p99"), (self.p50, self.p95, self.p99), strict=True))


@dataclass(frozen=True)
class Report:
    run: str
    url: str  # the Redis URL, password masked
    now: float  # epoch seconds of the snapshot
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
    predicted_rate: float  # msg/s from the profiles of the senders up (inf: unbounded)
    predicted_all: float  # msg/s from the profiles of every sender seen
    remaining: int
    eta: float | None
    predicted_eta: float | None
    latency: Percentiles  # enqueue to delivered
    senders: tuple[SenderRow, ...]
    statuses: dict[str, int]  # senders by status
    throughput: tuple[Point, ...]  # (seconds since the start, msg/s between reports)

    def state(self, final: bool) -> str:
        """``running`` or ``complete`` while watching; ``stopped`` at the end if not complete."""
        if self.complete:
            return COMPLETE
        return STOPPED if final else RUNNING


def build(snap: Snapshot) -> Report:
    s = snap.stats
    rows = tuple(fleet(snap))
    r = rates(snap, rows)
    status = Counter(row.status for row in rows)
    return Report(
        run=snap.run,
        url=snap.url,
        now=snap.now,
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
        predicted_all=predicted_rate(rows, include_gone=True),
        remaining=r.remaining,
        eta=r.eta,
        predicted_eta=r.predicted_eta,
        latency=Percentiles.of(s.latency),
        senders=rows,
        statuses={name: status[name] for name in (LIVE, IDLE, GONE)},
        throughput=tuple(_throughput(snap)),
    )


def _throughput(snap: Snapshot) -> list[Point]:
    """(seconds since the start, msg/s over the interval ending there)."""
    samples = snap.timeline.points()
    if not samples:
        return []
    start = snap.created or samples[0][0]
    points = []
    for (t0, s0), (t1, s1) in itertools.pairwise(samples):
        if t1 > t0:
            points.append((t1 - start, (s1 - s0) / (t1 - t0)))
    return points
