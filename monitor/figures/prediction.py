"""What the profiles predict: each sender's yields, and the fleet's rates over simulated
time, from which the predicted rates and the predicted completion come.

A sender makes ``attempt_rate`` attempts per simulated second while busy (its heartbeat
says: slots / mean time, at most its ``max_rate``, times its availability under random
outages; a heartbeat without it: slots / mean time). Of the messages it takes, the
share ``invalid`` goes to undeliverable numbers and takes one attempt; a deliverable
message takes ``1 / (1 - p)`` attempts at failure rate ``p`` (``(1 - p^m) / (1 - p)``
with ``max_attempts`` m, and then it is delivered with probability ``1 - p^m``). So per
attempt it settles ``1 / (invalid + (1 - invalid) * attempts per deliverable message)``
messages, and delivers ``1 - invalid`` (times ``1 - p^m``) of those.

The fleet over time: each sender counts from when it began serving until it left (for
good, when it was still up at the end of what is known), and for nothing inside its
scheduled outage windows. The run's account cap bounds the attempts of the whole fleet;
when they would exceed it, every sender's attempts shrink in proportion (a sender
with no delay at all takes whatever the cap allows). Times are simulated seconds since
the run's start.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from common.heartbeat import Heartbeat

Interval = tuple[float, float]
Point = tuple[float, float]


@dataclass(frozen=True)
class Yields:
    """What one sender does per simulated second while busy."""

    attempts: float  # attempts per simulated second (inf: no delay)
    settles: float  # messages settled (delivered, undeliverable, abandoned) per attempt
    delivers: float  # messages delivered per attempt

    @property
    def rate(self) -> float:
        """Messages delivered per simulated second (inf: unbounded)."""
        return _times(self.attempts, self.delivers)


def _times(rate: float, share: float) -> float:
    """``rate * share`` where an infinite rate of a zero share is nothing."""
    return 0.0 if share <= 0 or rate <= 0 else rate * share


def yields(beat: Heartbeat, invalid: float = 0.0) -> Yields | None:
    """The sender's yields from its heartbeat; None when its profile is unknown."""
    attempts = beat.attempt_rate
    if attempts is None:
        if beat.mean_time is None:
            return None
        attempts = beat.concurrency / beat.mean_time if beat.mean_time > 0 else math.inf
    per_valid = _per_deliverable(beat.failure_rate, beat.max_attempts)
    if per_valid is None:
        return None
    tries, delivered = per_valid
    per_message = invalid + (1 - invalid) * tries
    return Yields(max(attempts, 0.0), 1 / per_message, (1 - invalid) * delivered / per_message)


def _per_deliverable(failure: float | None, most: int | None) -> tuple[float, float] | None:
    """(attempts a deliverable message takes, the share of them delivered)."""
    if failure is None or not 0 <= failure <= 1:
        return None
    if most is None:
        return (1 / (1 - failure), 1.0) if failure < 1 else None
    if failure >= 1:
        return float(most), 0.0
    given_up = failure**most
    return (1 - given_up) / (1 - failure), 1 - given_up


def windows(profile: dict[str, Any]) -> tuple[Interval, ...]:
    """A profile's scheduled outage windows (``outages: [{at, for}]``), in order;
    anything unreadable is left out."""
    found = []
    listed = profile.get("outages")
    for window in listed if isinstance(listed, list) else []:
        try:
            at, length = float(window["at"]), float(window["for"])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(at + length) and at >= 0 and length > 0:
            found.append((at, at + length))
    return tuple(sorted(found))


@dataclass(frozen=True)
class Member:
    """One sender in the fleet over time."""

    yields: Yields
    up: Interval  # simulated seconds; the end is inf for a sender that stays
    windows: tuple[Interval, ...] = ()  # scheduled outages: no attempts inside


@dataclass(frozen=True)
class Segment:
    """A stretch of simulated time over which the fleet's rates hold still."""

    start: float
    end: float  # inf for the last
    settles: float  # messages settled per simulated second (inf: unbounded)
    delivers: float  # messages delivered per simulated second (inf: unbounded)


@dataclass
class _Sums:
    """The yields of the senders active at one moment, added up."""

    attempts: float = 0.0  # finite attempt rates
    settles: float = 0.0  # their settled messages per second
    delivers: float = 0.0
    unbounded: int = 0  # senders with no delay
    unbounded_settles: float = 0.0  # per attempt, summed over them
    unbounded_delivers: float = 0.0

    def add(self, y: Yields, sign: int) -> None:
        if math.isinf(y.attempts):
            self.unbounded += sign
            self.unbounded_settles += sign * y.settles
            self.unbounded_delivers += sign * y.delivers
        else:
            self.attempts += sign * y.attempts
            self.settles += sign * y.attempts * y.settles
            self.delivers += sign * y.attempts * y.delivers

    def rates(self, account: float | None) -> tuple[float, float]:
        """(settled, delivered) per second under the account cap (None: no cap)."""
        if self.unbounded > 0:
            if account is None:
                delivers = math.inf if self.unbounded_delivers > 0 else self.delivers
                return math.inf, delivers
            share = account / self.unbounded  # no-delay senders take the whole cap
            return share * self.unbounded_settles, share * self.unbounded_delivers
        factor = 1.0
        if account is not None and self.attempts > account:
            factor = account / self.attempts
        return max(self.settles * factor, 0.0), max(self.delivers * factor, 0.0)


def segments(members: Iterable[Member], account: float | None = None) -> list[Segment]:
    """The fleet's rates over simulated time from 0, as consecutive segments (the last
    one open-ended). A sender is active while up and outside its outage windows."""
    events: list[tuple[float, int, int]] = []  # (time, +1 / -1, member index)
    listed = list(members)
    for index, member in enumerate(listed):
        events += _events(index, member)
    events.sort()
    level = [0] * len(listed)  # 1: active
    sums = _Sums()
    out: list[Segment] = []
    at, i = 0.0, 0
    while True:
        while i < len(events) and events[i][0] <= at:
            _, sign, index = events[i]
            was = level[index] == 1
            level[index] += sign
            if was != (level[index] == 1):
                sums.add(listed[index].yields, 1 if not was else -1)
            i += 1
        end = events[i][0] if i < len(events) else math.inf
        out.append(Segment(at, end, *sums.rates(account)))
        if math.isinf(end):
            return _merged(out)
        at = end


def _events(index: int, member: Member) -> list[tuple[float, int, int]]:
    start, end = max(member.up[0], 0.0), member.up[1]
    if end <= start:
        return []
    found = [(start, 1, index)]
    if math.isfinite(end):
        found.append((end, -1, index))
    for low, high in member.windows:
        if high > start and low < end:
            found += [(low, -1, index), (high, 1, index)]
    return found


def _merged(parts: list[Segment]) -> list[Segment]:
    """Neighbours with the same rates joined."""
    out = [parts[0]]
    for seg in parts[1:]:
        last = out[-1]
        if (seg.settles, seg.delivers) == (last.settles, last.delivers):
            out[-1] = Segment(last.start, seg.end, last.settles, last.delivers)
        else:
            out.append(seg)
    return out


def completion(segs: Sequence[Segment], count: float, since: float = 0.0) -> float | None:
    """When (simulated seconds since the run's start) ``count`` more messages are settled,
    counting from ``since``; None when the fleet never settles them."""
    left = count
    if left <= 0:
        return since
    for seg in segs:
        if seg.end <= since:
            continue
        start = max(seg.start, since)
        if seg.settles <= 0:
            continue
        if math.isinf(seg.settles) or seg.settles * (seg.end - start) >= left:
            return start + left / seg.settles
        left -= seg.settles * (seg.end - start)
    return None


def rate_at(segs: Sequence[Segment], t: float) -> float:
    """Messages delivered per simulated second at ``t``."""
    for seg in segs:
        if seg.start <= t < seg.end:
            return seg.delivers
    return 0.0


def mean_rate(segs: Sequence[Segment], start: float, end: float) -> float:
    """Messages delivered per simulated second on average over [start, end]; the rate at
    ``start`` when the window has no length yet."""
    if end <= start:
        return rate_at(segs, start)
    total = 0.0
    for seg in segs:
        overlap = min(seg.end, end) - max(seg.start, start)
        if overlap > 0 and seg.delivers > 0:
            total += seg.delivers * overlap
    return total / (end - start)


def steps(segs: Sequence[Segment], start: float, end: float) -> list[Point]:
    """The delivery rate over [start, end] as a step line; empty when unbounded or nil."""
    points: list[Point] = []
    for seg in segs:
        low, high = max(seg.start, start), min(seg.end, end)
        if high <= low:
            continue
        if math.isinf(seg.delivers):
            return []
        points += [(low, seg.delivers), (high, seg.delivers)]
    return points if any(y for _, y in points) else []


def delivered_curve(segs: Sequence[Segment], total: float, end: float) -> list[Point]:
    """Messages delivered since the run's start as the fleet predicts them, until ``total``
    messages are settled (then flat) or to ``end``; empty when unbounded."""
    done = completion(segs, total)
    stop = max(end, done or 0.0)
    points: list[Point] = [(0.0, 0.0)]
    delivered = 0.0
    for seg in segs:
        if seg.start >= stop:
            break
        if math.isinf(seg.delivers):
            return []
        high = min(seg.end, stop, done if done is not None else math.inf)
        if high > seg.start:
            delivered += seg.delivers * (high - seg.start)
            points.append((high, delivered))
    if points[-1][0] < stop:
        points.append((stop, delivered))
    return points
