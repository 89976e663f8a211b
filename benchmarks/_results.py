"""Reading a finished run's results stream back, for the fidelity benchmarks.

Times are simulated seconds from the run's start: an attempt started at
``(ts - created) * scale - late - duration`` (``ts`` is when it was recorded, real time;
``late`` and ``duration`` are simulated; results without ``late`` come from versions that
recorded the wall time as ``duration``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from common.keys import RunKeys


@dataclass
class Results:
    starts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    durations: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    delivered: list[float] = field(default_factory=list)  # when each message was delivered
    late: float = 0.0  # summed, simulated seconds

    @property
    def attempts(self) -> int:
        return sum(len(d) for d in self.durations.values())

    @property
    def mean_late(self) -> float:
        return self.late / self.attempts if self.attempts else 0.0

    def steady(self) -> tuple[float, float]:
        """The steady state: from the 10th to the 90th percentile of the deliveries."""
        times = sorted(self.delivered)
        return times[len(times) // 10], times[9 * len(times) // 10]

    def steady_rate(self) -> float:
        """Deliveries per simulated second in the steady state."""
        t10, t90 = self.steady()
        return 0.8 * len(self.delivered) / (t90 - t10)

    def observed_mean(self, sender: str, slots: int) -> float:
        """How long a slot of ``sender`` really spent per attempt in the steady state: its
        slots over its rate of attempt starts (slips of its schedule included)."""
        t10, t90 = self.steady()
        started = sum(1 for t in self.starts[sender] if t10 <= t < t90)
        return slots * (t90 - t10) / started if started else float("inf")


def read_results(client: Any, keys: RunKeys, scale: float = 1.0) -> Results:
    created = float(client.hget(keys.meta, "created"))
    got = Results()
    cursor = "-"
    while True:
        entries: Any = client.xrange(keys.results, min=cursor, count=20_000)
        if not entries:
            return got
        for _, f in entries:
            at = (float(f["ts"]) - created) * scale
            late, duration = float(f.get("late", 0.0)), float(f["duration"])
            got.starts[f["sender"]].append(at - late - duration)
            got.durations[f["sender"]].append(duration)
            got.late += late
            if f["ok"] == "1" and "dup" not in f:
                got.delivered.append(at)
        cursor = "(" + entries[-1][0]
