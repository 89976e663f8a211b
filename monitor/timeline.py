"""(time, sent) samples as the monitor takes them, for the current rate.

The deque keeps just enough samples to span ``RATE_WINDOW`` seconds. (The throughput over
the whole run comes from the results' own timestamps instead: ``monitor/series.py``.)
"""

from __future__ import annotations

from collections import deque

RATE_WINDOW = 10.0  # seconds: "current rate" is measured over this window
MAX_RECENT = 4096  # safety bound on the recent window (tiny report periods)

Sample = tuple[float, int]


class Timeline:
    def __init__(self, window: float = RATE_WINDOW) -> None:
        self.window = window
        self.recent: deque[Sample] = deque(maxlen=MAX_RECENT)

    def record(self, t: float, sent: int) -> None:
        if self.recent and t < self.recent[-1][0]:
            return  # clocks only move forward here
        self.recent.append((t, sent))
        # keep one sample at or before the window's start as the anchor
        while len(self.recent) > 2 and self.recent[1][0] <= t - self.window:
            self.recent.popleft()

    @property
    def rate(self) -> float:
        """Messages per second over the last ``window`` seconds (0 with under two samples)."""
        if len(self.recent) < 2:
            return 0.0
        (t0, s0), (t1, s1) = self.recent[0], self.recent[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0
