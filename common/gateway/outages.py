"""When a gateway is down: its scheduled outage windows, and random outages.

Times are simulated seconds since the run's start. Random outages alternate with up
times: up for an exponential time of mean ``mtbf``, then down for one of mean ``mttr``,
drawn from the sender's own (seeded) generator as far as they are asked for.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence

from common.model import Window


class Outages:
    def __init__(
        self,
        windows: Sequence[Window] = (),
        mtbf: float | None = None,
        mttr: float | None = None,
        rng: random.Random | None = None,
    ) -> None:
        scheduled = sorted((w.at, w.end) for w in windows)
        self._starts = [start for start, _ in scheduled]
        self._ends = [end for _, end in scheduled]
        self._mtbf, self._mttr = mtbf, mttr
        self._rng = rng or random.Random()
        self._random_starts: list[float] = []
        self._random_ends: list[float] = []
        self._drawn_until = 0.0  # random up/down times are drawn up to here
        self._never = not scheduled and mtbf is None  # no outage at all: no look needed

    @property
    def any(self) -> bool:
        return bool(self._starts) or self._mtbf is not None

    def down(self, t: float) -> bool:
        """Is the gateway down at simulated time ``t``?"""
        if self._never:
            return False
        return _inside(self._starts, self._ends, t) or self._randomly_down(t)

    def _randomly_down(self, t: float) -> bool:
        if self._mtbf is None or self._mttr is None:
            return False
        while self._drawn_until <= t:
            start = self._drawn_until + self._rng.expovariate(1 / self._mtbf)
            end = start + self._rng.expovariate(1 / self._mttr)
            self._random_starts.append(start)
            self._random_ends.append(end)
            self._drawn_until = end
        return _inside(self._random_starts, self._random_ends, t)

    def availability(self) -> float:
        """The long-run share of time up (random outages; windows are counted apart)."""
        if self._mtbf is None or self._mttr is None:
            return 1.0
        return self._mtbf / (self._mtbf + self._mttr)


def _inside(starts: list[float], ends: list[float], t: float) -> bool:
    i = bisect.bisect_right(starts, t) - 1
    return i >= 0 and t < ends[i]
