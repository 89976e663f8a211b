"""Rates and finish times: measured (last 10 s, overall) and predicted from the profiles.

A sender with ``concurrency`` slots, mean attempt time ``mean`` and failure rate ``p``
delivers on average ``concurrency * (1 - p) / mean`` messages per second (each message
takes ``1 / (1 - p)`` attempts); the fleet's predicted rate sums that over the senders
that are up (live or idle). A mean time of 0 makes the prediction unbounded (inf).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from monitor.fleet import SenderRow
from monitor.health import GONE
from monitor.snapshot import Snapshot


@dataclass(frozen=True)
class Rates:
    current: float  # msg/s over the last RATE_WINDOW seconds
    overall: float  # msg/s since the run was created
    predicted: float  # msg/s from the profiles (inf when a mean time is 0)
    remaining: int  # messages neither delivered nor abandoned
    eta: float | None  # seconds left at the measured rate (None: no rate yet)
    predicted_eta: float | None  # seconds left at the predicted rate


def predicted_rate(rows: Iterable[SenderRow], include_gone: bool = False) -> float:
    """The fleet's expected msg/s: senders that are up, or (``include_gone``) every one seen."""
    total = 0.0
    for row in rows:
        if row.mean_time is None or row.failure_rate is None:
            continue
        if row.status == GONE and not include_gone:
            continue
        if row.mean_time <= 0:
            return math.inf
        total += row.concurrency * (1 - row.failure_rate) / row.mean_time
    return total


def seconds_left(remaining: int, rate: float) -> float | None:
    if remaining <= 0:
        return 0.0
    return remaining / rate if rate > 0 else None


def rates(snap: Snapshot, rows: Iterable[SenderRow]) -> Rates:
    remaining = max(snap.state.total - snap.stats.sent - snap.state.abandoned, 0)
    if snap.state.complete:
        remaining = 0
    current = snap.timeline.rate
    overall = snap.throughput
    predicted = predicted_rate(rows)
    return Rates(
        current=current,
        overall=overall,
        predicted=predicted,
        remaining=remaining,
        eta=seconds_left(remaining, current or overall),
        predicted_eta=seconds_left(remaining, predicted),
    )
