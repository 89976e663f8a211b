"""Rates and finish times, per simulated second: measured (the last 10 s, overall) and
predicted from the profiles (``monitor/figures/prediction.py``).

- rate (last 10 s): deliveries over the last ``RATE_WINDOW`` real seconds of the run's
  window, from the deliveries' own timestamps (the monitor's checkpointed time series),
  so a restarted monitor catching up shows no spike;
- predicted overall: the fleet's mean delivery rate over the run so far, as it was (each
  sender for the time it was up, nothing inside its outage windows, under the account
  cap): the figure to compare with the overall rate;
- predicted now: the fleet's delivery rate at this moment (the senders up now);
- predicted finish: when the senders up now settle the remaining messages;
- predicted completion: when the fleet over time settles every message of the run,
  from its start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.figures.clock import Clock
from monitor.figures.fleet import SenderRow
from monitor.figures.health import DONE, UP
from monitor.figures.prediction import Member, Segment, completion, mean_rate, rate_at, segments
from monitor.figures.snapshot import Snapshot

RATE_WINDOW = 10.0  # real seconds: "rate (last 10 s)" is measured over this window


@dataclass(frozen=True)
class Rates:
    current: float  # msg/s over the last RATE_WINDOW seconds
    overall: float  # msg/s since the run was created
    predicted: float  # msg/s the fleet predicts over the run (inf: unbounded)
    predicted_now: float | None  # msg/s the senders up now predict; None once complete
    remaining: int  # messages neither delivered, abandoned nor undeliverable
    eta: float | None  # seconds left at the measured rate (None: no rate yet)
    predicted_finish: float | None  # seconds left as the senders up now predict
    predicted_completion: float | None  # seconds from the start to the last message settled
    segments: tuple[Segment, ...]  # the fleet's predicted rates over time


def members(rows: Sequence[SenderRow], clock: Clock) -> list[Member]:
    """The senders with a known profile and a heartbeat, in simulated time; those still
    up (or done) stay up from here on."""
    found = []
    for row in rows:
        if row.yields is None or row.up is None:
            continue
        start, end = clock.sim(row.up[0]), clock.sim(row.up[1])
        if row.status in UP or row.status == DONE:
            end = float("inf")
        found.append(Member(row.yields, (start, end), row.windows))
    return found


def seconds_left(remaining: int, rate: float | None) -> float | None:
    if remaining <= 0:
        return 0.0
    return remaining / rate if rate and rate > 0 else None


def rates(snap: Snapshot, rows: Sequence[SenderRow], clock: Clock) -> Rates:
    state = snap.state
    segs = segments(members(rows, clock), state.account_rate)
    remaining = max(state.total - snap.stats.sent - state.abandoned - state.undeliverable, 0)
    if state.complete:
        remaining = 0
    since = max(snap.end - RATE_WINDOW, snap.created) if snap.created else snap.end - RATE_WINDOW
    current = clock.rate(snap.stats.series.rate_over(since, snap.end))
    elapsed = clock.span(snap.elapsed)
    overall = snap.stats.sent / elapsed if elapsed > 0 else 0.0
    now = None if state.complete else rate_at(segs, elapsed)
    finish = completion(segs, remaining, elapsed)
    return Rates(
        current=current,
        overall=overall,
        predicted=mean_rate(segs, 0.0, elapsed),
        predicted_now=now,
        remaining=remaining,
        eta=seconds_left(remaining, current or overall),
        predicted_finish=None if finish is None or state.complete else finish - elapsed,
        predicted_completion=completion(segs, state.total),
        segments=tuple(segs),
    )
