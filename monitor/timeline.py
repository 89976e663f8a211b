"""(time, sent) samples: the recent window for the current rate, and a bounded history.

The recent deque keeps just enough samples to span ``RATE_WINDOW`` seconds; the history
(for the report's throughput chart) is downsampled by half whenever it reaches
``MAX_POINTS``, so memory stays bounded however long the run.
"""

from __future__ import annotations

from collections import deque

RATE_WINDOW = 10.0  # seconds: "current rate" is measured over this window
MAX_POINTS = 512  # history points kept for the throughput chart
MAX_RECENT = 4096  # safety bound on the recent window (tiny report periods)

Sample = tuple[float, int]


class Timeline:
    def __init__(self, window: float = RATE_WINDOW, max_points: int = MAX_POINTS) -> None:
        self.window = window
        self.max_points = max_points
        self.recent: deque[Sample] = deque(maxlen=MAX_RECENT)
        self._history: list[Sample] = []
        self._stride = 1
        self._skipped = 0

    def record(self, t: float, sent: int) -> None:
        if self.recent and t < self.recent[-1][0]:
            return  # clocks only move forward here
        self.recent.append((t, sent))
        # keep one sample at or before the window's start as the anchor
        while len(self.recent) > 2 and self.recent[1][0] <= t - self.window:
            self.recent.popleft()
        self._keep(t, sent)

    def _keep(self, t: float, sent: int) -> None:
        self._skipped += 1
        if self._skipped < self._stride:
            return
        self._skipped = 0
        self._history.append((t, sent))
        if len(self._history) >= self.max_points:
            self._history = self._history[::2]
            self._stride *= 2

    @property
    def rate(self) -> float:
        """Messages per second over the last ``window`` seconds (0 with under two samples)."""
        if len(self.recent) < 2:
            return 0.0
        (t0, s0), (t1, s1) = self.recent[0], self.recent[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0

    def points(self) -> list[Sample]:
        """The downsampled history, always ending with the latest sample."""
        if self.recent and (not self._history or self._history[-1] != self.recent[-1]):
            return [*self._history, self.recent[-1]]
        return list(self._history)
