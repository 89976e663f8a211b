"""Deliveries over time by the results' own timestamps, not by when a monitor looked.

Bucket ``i`` counts the deliveries whose ``ts`` lies in ``[i * width, (i + 1) * width)``
(epoch seconds). The width starts at ``BASE_WIDTH`` and doubles, merging neighbours,
whenever more than ``MAX_BUCKETS`` buckets hold counts: memory stays bounded however long
the run, and bucket edges stay aligned so doubling is exact. The series travels in the
monitor's checkpoint, so a monitor started late or restarted sees the whole run.

From it come the throughput chart, the deliveries over time, the rate of the last
seconds, and the delivery-time percentiles (time from the run's start until a share of
the delivered messages had arrived). Each sender keeps a coarser one of its own
(``SENDER_BUCKETS``), for its line in the report. The run's series also keeps, per
bucket, the queue wait + send (enqueue to delivered) of the deliveries it counts: how
many carried one, their sum and their largest (``add_waits``), for the report's chart of
delivery time over time.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any

from common.histogram import rank

# seconds; a power of two, so every doubling is exact (fine enough for a run compressed
# into a second or two of wall time to chart in dozens of steps)
BASE_WIDTH = 1 / 64
MAX_BUCKETS = 512
SENDER_BUCKETS = 64  # a sender's own series: one line of a chart
SPAN = 64  # buckets a slice may span and still be cut at the edges
FEW = 8  # stamps bucketed one by one: cheaper than sorting and cutting so few
CHART_POINTS = 120  # steps a chart of the whole run shows, at most
CROWD = 25  # deliveries a chart's step holds on average, at least (fewer: mostly noise)
MIN_POINTS = 10  # steps a chart shows, at least (however few the deliveries)

Point = tuple[float, float]
Wait = tuple[int, float, float]  # a bucket's deliveries with a wait: count, sum, largest


class Series:
    def __init__(self, width: float = BASE_WIDTH, limit: int = MAX_BUCKETS) -> None:
        self.width = width
        self.limit = limit  # buckets holding counts, at most
        self.counts: dict[int, int] = {}
        self.total = 0
        self.waits: dict[int, Wait] = {}  # queue wait + send per bucket (the run's series)

    def add(self, ts: float) -> None:
        self.add_many([ts])

    def add_many(self, stamps: list[float]) -> None:
        """Count one delivery at each epoch time in ``stamps`` (the monitor's hot path: a
        slice of results spans a few buckets, so it is sorted, a C loop on nearly sorted
        input, and cut at the bucket edges rather than bucketed one by one)."""
        if not stamps:
            return
        width, counts = self.width, self.counts
        first = last = 0
        if len(stamps) > FEW:
            first, last = math.floor(min(stamps) / width), math.floor(max(stamps) / width)
        if len(stamps) <= FEW or last - first > SPAN:
            for ts in stamps:
                index = math.floor(ts / width)
                counts[index] = counts.get(index, 0) + 1
        else:
            ordered = sorted(stamps)
            done = 0
            for index in range(first, last + 1):
                upto = bisect.bisect_left(ordered, (index + 1) * width, done)
                if upto > done:
                    counts[index] = counts.get(index, 0) + upto - done
                    done = upto
        self.total += len(stamps)
        while len(self.counts) > self.limit:
            self._coarsen()

    def add_waits(self, stamps: list[float], waits: list[float]) -> None:
        """Record the queue wait + send of deliveries counted by ``add_many``: ``waits[i]``
        (seconds) of the one recorded at ``stamps[i]`` (about 0.3 us a delivery)."""
        width, found, floor = self.width, self.waits, math.floor
        for ts, wait in zip(stamps, waits, strict=True):
            index = floor(ts / width)
            n, total, most = found.get(index, (0, 0.0, 0.0))
            found[index] = (n + 1, total + wait, most if most > wait else wait)

    def merge(self, other: Series) -> None:
        """Add ``other``'s deliveries (a run's partitions, counted apart), on the coarser
        of the two bucket widths."""
        theirs = Series.from_dict(other.to_dict())
        while self.width < theirs.width:
            self._coarsen()
        while theirs.width < self.width:
            theirs._coarsen()
        for index, count in theirs.counts.items():
            self.counts[index] = self.counts.get(index, 0) + count
        for index, wait in theirs.waits.items():
            self.waits[index] = _joined(self.waits.get(index), wait)
        self.total += theirs.total
        while len(self.counts) > self.limit:
            self._coarsen()

    def _coarsen(self) -> None:
        merged: dict[int, int] = {}
        for index, count in self.counts.items():
            merged[index // 2] = merged.get(index // 2, 0) + count
        self.counts = merged
        waits: dict[int, Wait] = {}
        for index, wait in self.waits.items():
            waits[index // 2] = _joined(waits.get(index // 2), wait)
        self.waits = waits
        self.width *= 2

    def buckets(self) -> list[tuple[float, int]]:
        """(start of bucket, deliveries), in time order."""
        return [(i * self.width, self.counts[i]) for i in sorted(self.counts)]

    def steps(self, start: float, end: float, points: int = CHART_POINTS) -> list[list[int]]:
        """[first bucket, bucket past the last] of each step of a chart over [start, end]:
        whole buckets, about ``points`` steps, fewer when the deliveries are few (each
        holds ``CROWD`` on average, at least, but ``MIN_POINTS`` steps in all); a last
        step shorter than half the others joins the one before."""
        if end <= start:
            return []
        width, span = self.width, end - start
        least = min(span * CROWD / self.total, span / MIN_POINTS) if self.total else 0.0
        per = max(1, math.ceil(span / (points * width)), math.ceil(least / width - 1e-9))
        first, last = math.floor(start / width), math.floor(end / width)
        steps = [[g, min(g + per, last + 1)] for g in range(first, last + 1, per)]
        if (
            len(steps) > 1
            and min(steps[-1][1] * width, end) - steps[-1][0] * width < per * width / 2
        ):
            tail = steps.pop()
            steps[-1][1] = tail[1]
        return steps

    def rates(self, start: float, end: float, points: int = CHART_POINTS) -> list[Point]:
        """Messages per second over [start, end] in the chart's ``steps`` (x: seconds since
        ``start`` at each step's middle; a step with none is 0)."""
        steps = self.steps(start, end, points)
        if not steps:
            return []
        width, first, per = self.width, steps[0][0], steps[0][1] - steps[0][0]
        counts = [0] * len(steps)
        for index, count in self.counts.items():
            if first <= index < steps[-1][1]:
                counts[min((index - first) // per, len(steps) - 1)] += count
        out: list[Point] = []
        for (a, b), count in zip(steps, counts, strict=True):
            lo, hi = max(a * width, start), min(b * width, end)
            out.append(((lo + hi) / 2 - start, count / max(hi - lo, width)))
        return out

    def wait_steps(
        self, start: float, end: float, points: int = CHART_POINTS
    ) -> list[tuple[float, float, float]]:
        """The queue wait + send of the deliveries in each of the chart's ``steps`` that has
        any: (seconds since ``start`` at the step's middle, their mean, their largest)."""
        steps = self.steps(start, end, points)
        if not steps:
            return []
        width, first, per = self.width, steps[0][0], steps[0][1] - steps[0][0]
        sums: list[Wait | None] = [None] * len(steps)
        for index, wait in self.waits.items():
            if first <= index < steps[-1][1]:
                at = min((index - first) // per, len(steps) - 1)
                sums[at] = _joined(sums[at], wait)
        out = []
        for (a, b), found in zip(steps, sums, strict=True):
            if found and found[0]:
                lo, hi = max(a * width, start), min(b * width, end)
                out.append(((lo + hi) / 2 - start, found[1] / found[0], found[2]))
        return out

    def rate_over(self, start: float, end: float) -> float:
        """Deliveries per second over [start, end] (epoch seconds); a bucket that begins
        before ``start`` counts in proportion to its part after it."""
        if end <= start:
            return 0.0
        width, count = self.width, 0.0
        for index in range(math.floor(start / width), math.floor(end / width) + 1):
            n = self.counts.get(index)
            if not n:
                continue
            low, high = index * width, min((index + 1) * width, end)
            count += n if low >= start else n * (high - start) / (high - low)
        return count / (end - start)

    def cumulative(self, start: float) -> list[Point]:
        """(seconds since ``start``, deliveries so far) at the end of each bucket, from
        (0, 0)."""
        points: list[Point] = [(0.0, 0.0)]
        seen = 0
        for begin, count in self.buckets():
            seen += count
            points.append((max(begin + self.width - start, 0.0), float(seen)))
        return points

    def time_to(self, share: float, start: float) -> float:
        """Seconds from ``start`` until ``share`` (0..1) of the deliveries had arrived: when
        the delivery of nearest rank k = ``rank(share, n)`` arrived (the percentiles' one
        rule, ``common.histogram.rank``), its bucket's deliveries taken as evenly spread
        over it (the k-th of them at ``begin + width x (k - before) / count``); 0 when
        empty."""
        return self.times_to([share], start)[0]

    def times_to(self, shares: Sequence[float], start: float) -> list[float]:
        """``time_to`` of each of ``shares``, in one pass over the buckets."""
        if not self.total:
            return [0.0] * len(shares)
        ranks = [rank(share, self.total) for share in shares]
        found = [0.0] * len(shares)
        order = sorted(range(len(shares)), key=ranks.__getitem__)
        buckets = iter(self.buckets())
        seen, begin, count = 0, 0.0, 0
        for i in order:
            while seen < ranks[i] and (bucket := next(buckets, None)) is not None:
                (begin, count), seen = bucket, seen + bucket[1]
            before = seen - count
            within = min(max(ranks[i] - before, 0), count)  # count short of the total: the end
            at = begin + self.width * within / count if count else begin
            found[i] = max(at - start, 0.0)
        return found

    def to_dict(self) -> dict[str, Any]:
        counts = {str(i): c for i, c in self.counts.items()}
        found = {"w": self.width, "n": self.total, "b": counts, "m": self.limit}
        if self.waits:
            found["l"] = {str(i): list(wait) for i, wait in self.waits.items()}
        return found

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Series:
        series = cls(float(data["w"]), int(data.get("m", MAX_BUCKETS)))
        series.counts = {int(i): int(c) for i, c in data["b"].items()}
        series.total = int(data["n"])
        waits = data.get("l") or {}
        series.waits = {int(i): (int(n), float(s), float(m)) for i, (n, s, m) in waits.items()}
        return series


def _joined(one: Wait | None, other: Wait) -> Wait:
    if one is None:
        return other
    return one[0] + other[0], one[1] + other[1], max(one[2], other[2])
