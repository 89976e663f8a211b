"""Rates and finish times: measured (last 10 s, overall) and predicted from the profiles.

A sender with ``concurrency`` slots, mean attempt time ``mean`` and failure rate ``p``
delivers on average ``concurrency * (1 - p) / mean`` messages per second (each message
takes ``1 / (1 - p)`` attempts). Two predictions follow the fleet:

- over the run: each sender's rate weighted by how long it was up within the run's window
  (from the run's creation to its end, or to now), the figure to compare with the overall
  rate; a sender that was not up during the window counts for nothing;
- now: the senders up at this moment (live or idle), which the predicted finish uses.

A mean time of 0 makes a prediction unbounded (inf).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.fleet import SenderRow
from monitor.health import IDLE, LIVE
from monitor.snapshot import Snapshot
from monitor.svg import Point


@dataclass(frozen=True)
class Rates:
    current: float  # msg/s over the last RATE_WINDOW seconds
    overall: float  # msg/s since the run was created
    predicted: float  # msg/s the fleet predicts over the run (inf: unbounded)
    predicted_now: float | None  # msg/s the senders up now predict; None once complete
    remaining: int  # messages neither delivered nor abandoned
    eta: float | None  # seconds left at the measured rate (None: no rate yet)
    predicted_eta: float | None  # seconds left at the predicted rate of the senders up now


def _total(rates: Iterable[float]) -> float:
    """A sum in which one unbounded rate makes the whole unbounded."""
    total = 0.0
    for rate in rates:
        if math.isinf(rate):
            return math.inf
        total += rate
    return total


def predicted_now(rows: Iterable[SenderRow]) -> float:
    """The expected msg/s of the senders up now (live or idle)."""
    return _total(r.rate for r in rows if r.rate is not None and r.status in {LIVE, IDLE})


def rate_at(rows: Iterable[SenderRow], t: float) -> float:
    """The expected msg/s of the senders up at ``t`` (epoch seconds)."""
    return _total(r.rate for r in rows if r.rate is not None and r.up and r.up[0] <= t <= r.up[1])


def predicted_over(rows: Sequence[SenderRow], start: float, end: float) -> float:
    """The expected msg/s over [start, end]: each sender's rate weighted by the share of
    the window it was up; the fleet at ``end`` when the window has no length yet."""
    if end <= start:
        return rate_at(rows, end)
    weighted = []
    for row in rows:
        if row.rate is None or row.up is None:
            continue
        overlap = min(row.up[1], end) - max(row.up[0], start)
        if overlap > 0:
            weighted.append(math.inf if math.isinf(row.rate) else row.rate * overlap)
    return _total(weighted) / (end - start)


def predicted_steps(rows: Sequence[SenderRow], start: float, end: float) -> list[Point]:
    """The fleet's expected msg/s over [start, end] as a step line, x in seconds since
    ``start``; empty when unbounded or when no sender with a profile was up."""
    known = [r for r in rows if r.rate is not None and r.up is not None]
    edges = {start, end}
    for row in known:
        assert row.up is not None
        edges |= {min(max(t, start), end) for t in row.up}
    cuts = sorted(edges)
    points: list[Point] = []
    for a, b in itertools.pairwise(cuts):
        level = rate_at(known, (a + b) / 2)
        if math.isinf(level):
            return []
        points += [(a - start, level), (b - start, level)]
    return points if any(y for _, y in points) else []


def seconds_left(remaining: int, rate: float | None) -> float | None:
    if remaining <= 0:
        return 0.0
    return remaining / rate if rate and rate > 0 else None


def rates(snap: Snapshot, rows: Sequence[SenderRow]) -> Rates:
    remaining = max(snap.state.total - snap.stats.sent - snap.state.abandoned, 0)
    if snap.state.complete:
        remaining = 0
    current = snap.timeline.rate
    overall = snap.throughput
    now = None if snap.state.complete else predicted_now(rows)
    return Rates(
        current=current,
        overall=overall,
        predicted=predicted_over(rows, snap.created or snap.end, snap.end),
        predicted_now=now,
        remaining=remaining,
        eta=seconds_left(remaining, current or overall),
        predicted_eta=seconds_left(remaining, now),
    )
