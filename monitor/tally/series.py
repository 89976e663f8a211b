"""Deliveries over time by the results' own timestamps, not by when a monitor looked.

Bucket ``i`` counts the deliveries whose ``ts`` lies in ``[i * width, (i + 1) * width)``
(epoch seconds). The width starts at ``BASE_WIDTH`` and doubles, merging neighbours,
whenever more than ``MAX_BUCKETS`` buckets hold counts: memory stays bounded however long
the run, and bucket edges stay aligned so doubling is exact. The series travels in the
monitor's checkpoint, so a monitor started late or restarted sees the whole run.

From it come the throughput chart, the deliveries over time, the rate of the last
seconds, and the delivery-time percentiles (time from the run's start until a share of
the delivered messages had arrived). Each sender keeps a coarser one of its own
(``SENDER_BUCKETS``), for its line in the report.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

BASE_WIDTH = 0.125  # seconds; a power of two, so every doubling is exact
MAX_BUCKETS = 512
SENDER_BUCKETS = 64  # a sender's own series: one line of a chart
SPAN = 64  # buckets a slice may span and still be cut at the edges
FEW = 8  # stamps bucketed one by one: cheaper than sorting and cutting so few
CHART_POINTS = 60  # steps a chart of the whole run shows, at most
MIN_STEP = 0.5  # seconds: a chart's shortest step (shorter ones show mostly noise)

Point = tuple[float, float]


class Series:
    def __init__(self, width: float = BASE_WIDTH, limit: int = MAX_BUCKETS) -> None:
        self.width = width
        self.limit = limit  # buckets holding counts, at most
        self.counts: dict[int, int] = {}
        self.total = 0

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
        self.total += theirs.total
        while len(self.counts) > self.limit:
            self._coarsen()

    def _coarsen(self) -> None:
        merged: dict[int, int] = {}
        for index, count in self.counts.items():
            merged[index // 2] = merged.get(index // 2, 0) + count
        self.counts = merged
        self.width *= 2

    def buckets(self) -> list[tuple[float, int]]:
        """(start of bucket, deliveries), in time order."""
        return [(i * self.width, self.counts[i]) for i in sorted(self.counts)]

    def rates(
        self, start: float, end: float, points: int = CHART_POINTS, least: float = MIN_STEP
    ) -> list[Point]:
        """Messages per second over [start, end] in about ``points`` steps of whole buckets,
        each at least ``least`` seconds (x: seconds since ``start`` at each step's middle; a
        step with none is 0); a last step shorter than half the others joins the one before."""
        if end <= start:
            return []
        width = self.width
        per = max(1, math.ceil((end - start) / (points * width)), math.ceil(least / width))
        first, last = math.floor(start / width), math.floor(end / width)
        steps = [[g, min(g + per, last + 1), 0] for g in range(first, last + 1, per)]
        if (
            len(steps) > 1
            and min(steps[-1][1] * width, end) - steps[-1][0] * width < per * width / 2
        ):
            tail = steps.pop()
            steps[-1][1] = tail[1]
        for index, count in self.counts.items():
            if first <= index <= last:
                steps[min((index - first) // per, len(steps) - 1)][2] += count
        out: list[Point] = []
        for a, b, count in steps:
            lo, hi = max(a * width, start), min(b * width, end)
            out.append(((lo + hi) / 2 - start, count / max(hi - lo, width)))
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
        """Seconds from ``start`` until ``share`` (0..1) of the deliveries had arrived,
        interpolated within the bucket that holds that rank; 0 when empty."""
        if not self.total:
            return 0.0
        rank = share * self.total
        seen = 0
        for begin, count in self.buckets():
            if seen + count >= rank:
                at = begin + self.width * max(rank - seen, 0) / count
                return max(at - start, 0.0)
            seen += count
        return max(self.buckets()[-1][0] + self.width - start, 0.0)

    def to_dict(self) -> dict[str, Any]:
        counts = {str(i): c for i, c in self.counts.items()}
        return {"w": self.width, "n": self.total, "b": counts, "m": self.limit}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Series:
        series = cls(float(data["w"]), int(data.get("m", MAX_BUCKETS)))
        series.counts = {int(i): int(c) for i, c in data["b"].items()}
        series.total = int(data["n"])
        return series
