"""What the monitor knows at one moment: its totals, the run's state and the heartbeats.

Every view formats the ``Report`` built from a snapshot (``snap.report``): the figures
are computed once per snapshot, whoever shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from common.heartbeat import Heartbeat
from common.run import RunState
from monitor.stats import Stats
from monitor.timeline import Timeline

if TYPE_CHECKING:
    from monitor.report import Report


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
    timeline: Timeline = field(default_factory=Timeline)

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
        return max(self.end - self.created, 0.0) if self.created else 0.0

    @property
    def throughput(self) -> float:
        return self.stats.sent / self.elapsed if self.elapsed > 0 else 0.0

    @cached_property
    def report(self) -> Report:
        """Every figure of this snapshot, computed on first use and then shared."""
        from monitor.report import build  # noqa: PLC0415 (the report is built from snapshots)

        return build(self)
