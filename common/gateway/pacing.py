"""A gateway's throughput cap: at most ``rate`` submissions per second, bursts of at most
``burst`` (a token bucket, kept as its theoretical arrival time: GCRA).

Times are event-loop seconds; ``rate`` is per event-loop second (the profile's
``max_rate`` times the run's time scale).
"""

from __future__ import annotations

import math


class Pacer:
    def __init__(self, rate: float, burst: int = 1) -> None:
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval
        self._tat = -math.inf  # when the bucket is full again (theoretical arrival time)

    def take(self, wanted: float) -> float:
        """The earliest time at or after ``wanted`` a submission may start; takes its
        token."""
        start = max(wanted, self._tat - self.tolerance)
        self._tat = max(self._tat, start) + self.interval
        return start


class Unpaced:
    """No cap: every submission starts when wanted."""

    def take(self, wanted: float) -> float:
        return wanted
