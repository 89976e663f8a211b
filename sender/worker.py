"""A sender: one simulated gateway with ``concurrency`` send slots, in a station.

A sender is its identity: name, profile, slots, schedule, heartbeat and statistics. When
each attempt runs is ``sender.schedule``'s (simulated time, slot schedules, caps,
backoffs); what it does is ``common.gateway.gateway``'s (delays, failures, outages). Its Redis
I/O (reads, recording, the account, heartbeats, keep-fresh, takeover) is its station's
(``sender.station``), shared with the other senders of its process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from typing import TYPE_CHECKING

from common import clock, gateway
from common.gateway.outages import Outages
from common.gateway.pacing import Pacer
from common.heartbeat import LIVE, OUTAGE, Heartbeat
from common.model import SenderProfile
from common.settings import SenderSettings
from sender.attempts import Attempts
from sender.profile import default_name
from sender.schedule import Schedule
from sender.slots import Slots

if TYPE_CHECKING:
    from sender.station import Station

logger = logging.getLogger(__name__)


class Sender:
    def __init__(
        self,
        station: Station,
        settings: SenderSettings,
        profile: SenderProfile,
        rng: random.Random | None = None,
    ) -> None:
        self.profile = profile
        self.name = settings.name or default_name()
        rng = rng or random.Random(settings.seed)
        self.gateway = gateway.build(profile, settings.shape, rng)
        loop = asyncio.get_running_loop()
        self.slots = Slots(profile.concurrency, loop.time(), station.freed)
        run = station.run_state
        self.schedule = Schedule(
            self.gateway,
            Attempts(self.gateway, profile.max_attempts, self.name),
            self.slots,
            station.recorders,
            station.clock,
            run,
            _pacer(profile, run.time_scale),
            profile.retry_backoff,
            station.account,
        )
        self.started = clock.now()

    @property
    def sent(self) -> int:
        return self.schedule.sent

    def log_start(self) -> None:
        p = self.profile
        logger.info(
            "sender %s: mean_time=%gs failure_rate=%g shape=%g concurrency=%d",
            self.name,
            p.mean_time,
            p.failure_rate,
            self.gateway.shape,
            p.concurrency,
        )

    def heartbeat(self, status: str, sim_now: float, error: str = "") -> str:
        """This sender's heartbeat (JSON) at simulated time ``sim_now``: ``outage`` while
        its gateway is down (a scheduled window or a random outage) and while every message
        it has in flight waits out the timeout of an attempt begun in one."""
        if status == LIVE and (self.gateway.down(sim_now) or self.schedule.held_by_outage):
            status = OUTAGE
        p = self.profile
        beat = Heartbeat(
            self.name,
            mean_time=p.mean_time,
            failure_rate=p.failure_rate,
            concurrency=p.concurrency,
            status=status,
            heartbeat=clock.now(),
            shape=self.gateway.shape,
            inflight=len(self.slots.inflight),
            sent=self.sent,
            max_attempts=p.max_attempts,
            started=self.started,
            error=error,
            late=self.schedule.lateness.take(),
            attempt_rate=attempt_rate(p, self.gateway.outages),
            profile=p.model_dump(mode="json", by_alias=True, exclude_none=True),
        )
        return beat.to_json()


def _pacer(profile: SenderProfile, scale: float) -> Pacer | None:
    """The profile's throughput cap on the event loop's clock, if it has one."""
    if profile.max_rate is None:
        return None
    return Pacer(profile.max_rate * scale, profile.burst or 1)


def attempt_rate(profile: SenderProfile, outages: Outages | None) -> float:
    """Attempts per simulated second this sender makes when busy: its slots over its mean
    time, at most its cap, in the long run of its random outages (inf at mean 0)."""
    rate = profile.concurrency / profile.mean_time if profile.mean_time > 0 else math.inf
    if profile.max_rate is not None:
        rate = min(rate, profile.max_rate)
    return rate * (outages.availability() if outages else 1.0)
