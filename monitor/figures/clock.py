"""The run's simulated time, as the monitor reads it from the results' wall-clock stamps.

A run with ``time_scale`` s plays its gateways s times faster than real time: its
simulated time is 0 at the run's creation (``origin``, epoch seconds) and advances s
seconds per real second. Results record when they were written (``ts``, wall time) and
how long an attempt took in simulated seconds (``duration``); queue waits are measured
in real seconds. Every figure the monitor shows is in simulated time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    origin: float  # epoch seconds of simulated time 0
    scale: float = 1.0  # simulated seconds per real second

    @property
    def compressed(self) -> bool:
        """Simulated time runs at another pace than real time."""
        return self.scale != 1.0

    def sim(self, epoch: float) -> float:
        """Simulated seconds since the run's start at epoch time ``epoch``."""
        return (epoch - self.origin) * self.scale

    def span(self, real: float) -> float:
        """Simulated seconds in ``real`` real seconds."""
        return real * self.scale

    def real(self, simulated: float) -> float:
        """Real seconds in ``simulated`` simulated seconds."""
        return simulated / self.scale

    def rate(self, per_real: float) -> float:
        """A rate per real second as a rate per simulated second."""
        return per_real / self.scale
