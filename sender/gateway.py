"""The simulated SMS gateway: a gamma-distributed delay and a Bernoulli failure per attempt."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(slots=True)
class Gateway:
    """``mean_time`` seconds on average per attempt (gamma, shape ``shape``); fails at
    ``failure_rate``. ``mean_time`` 0 means no delay at all."""

    mean_time: float
    failure_rate: float
    shape: float
    rng: random.Random

    def delay(self) -> float:
        if self.mean_time <= 0:
            return 0.0
        return self.rng.gammavariate(self.shape, self.mean_time / self.shape)

    def fails(self) -> bool:
        return self.rng.random() < self.failure_rate
