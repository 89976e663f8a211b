"""The simulated SMS gateway: what one attempt started at a given simulated time does.

A gamma-distributed delay of mean ``mean_time`` (shape ``shape``) and a Bernoulli failure
at ``failure_rate``; while the gateway is down (an outage) the attempt fails after the
profile's ``timeout``; to an undeliverable number it fails for good. ``mean_time`` 0 means
no delay at all.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass

from common.gateway.outages import Outages

SENT, FAILED, TIMED_OUT, REJECTED = "sent", "failed", "timed out", "rejected"


@dataclass(frozen=True, slots=True)
class Attempt:
    duration: float  # simulated seconds
    kind: str  # SENT; FAILED or TIMED_OUT (an outage): transient; REJECTED: permanent


@dataclass(slots=True)
class Gateway:
    mean_time: float
    failure_rate: float
    shape: float
    rng: random.Random
    timeout: float = 30.0
    outages: Outages | None = None

    def delay(self) -> float:
        if self.mean_time <= 0:
            return 0.0
        return self.rng.gammavariate(self.shape, self.mean_time / self.shape)

    def fails(self) -> bool:
        return self.rng.random() < self.failure_rate

    def attempt(self, sim_start: float, undeliverable: bool = False) -> Attempt:
        """An attempt that starts at simulated time ``sim_start``."""
        if self.outages is not None and self.outages.down(sim_start):
            return Attempt(self.timeout, TIMED_OUT)
        duration = self.delay()
        if undeliverable:
            return Attempt(duration, REJECTED)
        return Attempt(duration, FAILED if self.fails() else SENT)

    def down(self, sim_time: float) -> bool:
        return self.outages is not None and self.outages.down(sim_time)


def undeliverable(to: str, fraction: float) -> bool:
    """Is ``to`` one of the run's undeliverable numbers? The same answer in every sender:
    the number's hash, as a fraction of its range, below ``fraction``."""
    return fraction > 0 and zlib.crc32(to.encode()) < fraction * 2**32
