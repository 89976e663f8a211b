"""The simulated gateway, shared by the senders (in real time, over Redis) and the
virtual model (``common/virtual``, on a virtual clock): delays and failures
(``gateway``), outage windows and random outages (``outages``), throughput caps
(``pacing``). ``build`` makes a profile's gateway, the same way for both."""

from __future__ import annotations

import random

from common.gateway.gateway import Gateway
from common.gateway.outages import Outages
from common.model import SenderProfile


def build(profile: SenderProfile, shape: float, rng: random.Random) -> Gateway:
    """The gateway of ``profile`` (``shape``: the run's, when the profile has none),
    drawing its delays, failures and random outages from ``rng``."""
    outages = Outages(profile.outages, profile.mtbf, profile.mttr, rng)
    return Gateway(
        profile.mean_time,
        profile.failure_rate,
        profile.shape or shape,
        rng,
        profile.timeout,
        outages,
    )
