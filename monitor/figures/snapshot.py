"""What the monitor knows at one moment: its totals, the run's state and the heartbeats.

Data only: ``monitor/figures/report.py`` builds the figures from it, once a report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from common.heartbeat import Heartbeat
from common.run import RunState
from monitor.figures.clock import Clock
from monitor.tally.failures import Failure
from monitor.tally.stats import Stats


@dataclass(frozen=True)
class Snapshot:
    """Everything a report shows at one moment."""

    run: str
    state: RunState
    stats: Stats
    senders: dict[str, Heartbeat] = field(default_factory=dict)
    created: float = 0.0
    now: float = 0.0
    url: str = ""  # the Redis URL, password masked
    # the dead streams by kind and reason, read for the final report only (None: not read)
    failures: tuple[Failure, ...] | None = None

    @property
    def finished_at(self) -> float | None:
        """When the run completed (its last result); None while it is not complete."""
        return self.stats.last_ts if self.state.complete and self.stats.last_ts else None

    @property
    def end(self) -> float:
        """The end of the run's window so far: when it completed, else now."""
        return self.finished_at or self.now

    @property
    def elapsed(self) -> float:
        """Real seconds from the run's creation to the end of its window so far."""
        return max(self.end - self.created, 0.0) if self.created else 0.0

    @property
    def clock(self) -> Clock:
        """The run's simulated time (0 at its creation; the end of its window when the
        creation time is unknown)."""
        scale = self.state.time_scale
        return Clock(self.created or self.end, scale if 0 < scale < math.inf else 1.0)
