"""The sender: a consumer-group member with ``concurrency`` send slots.

``serve`` waits for the run, resolves the sender's profile and builds the ``Sender``;
``Sender.run`` owns the lifecycle: start the background tasks (recorder, heartbeat,
keep-fresh), consume until the run completes or ``stop`` is set, then finish or hand
back in-flight messages and leave.

When each attempt runs is ``sender.schedule``'s (simulated time, slot schedules, caps,
backoffs); what it does is ``sender.gateway``'s (delays, failures, outages). Orphans
(messages idle on a crashed or stopped sender) are looked for every ``claim_idle / 3``
seconds, in one scan of the pending list.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time

from redis.asyncio import Redis

from common.heartbeat import LIVE, OUTAGE, STOPPED, Heartbeat
from common.keys import RunKeys
from common.model import SenderProfile
from common.run import RunState, RunWrites, require_state, wait_for_run
from common.settings import SenderSettings
from common.tasks import cancel_all, periodic
from sender.account import Account
from sender.attempts import Attempts
from sender.gateway import Gateway
from sender.inbox import Entry
from sender.outages import Outages
from sender.pacing import Pacer
from sender.partitions import Outboxes
from sender.profile import default_name, resolve_profile
from sender.recorder import Recorder
from sender.schedule import Clock, Schedule
from sender.slots import Slots

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY = 1.0
MAX_READ = 200  # small reads: a big one delays every timer due meanwhile


async def serve(
    client: Redis,
    settings: SenderSettings,
    stop: asyncio.Event,
    profile: SenderProfile | None = None,
    rng: random.Random | None = None,
) -> Sender | None:
    """Serve the run until it completes (or ``stop``); None if it never started serving.

    ``profile`` None: the flags' profile, or the next one claimed from the config."""
    sender = await Sender.create(client, settings, stop, profile, rng)
    if sender is not None:
        await sender.run()
    return sender


class Sender:
    def __init__(  # noqa: PLR0917
        self,
        client: Redis,
        settings: SenderSettings,
        profile: SenderProfile,
        run: RunState,
        stop: asyncio.Event,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.profile = profile
        self.run_state = run
        self.stop = stop
        self.keys = RunKeys(settings.run)
        self.name = settings.name or default_name()
        self.writes = RunWrites(client, self.keys, run.id)
        self.inbox = Outboxes(client, self.keys, self.name, settings.block * 1000, run.partitions)
        self.recorders = [
            Recorder(client, part, self.name, run_id=run.id)
            for part in self.keys.parts(run.partitions)
        ]
        self._loop = asyncio.get_running_loop()
        rng = rng or random.Random(settings.seed)
        outages = Outages(profile.outages, profile.mtbf, profile.mttr, rng)
        self.gateway = Gateway(
            profile.mean_time,
            profile.failure_rate,
            profile.shape or settings.shape,
            rng,
            profile.timeout,
            outages,
        )
        self.slots = Slots(profile.concurrency, self._loop.time())
        self.clock = Clock(run.created or time.time(), run.time_scale, 0.0)
        self.clock.resync(self._loop.time())
        self.schedule = Schedule(
            self.gateway,
            Attempts(self.gateway, profile.max_attempts),
            self.slots,
            self.recorders,
            self.clock,
            run,
            _pacer(profile, run.time_scale),
            profile.retry_backoff,
            self._account(run),
        )
        self.started = time.time()
        self._sweep_period = min(settings.claim_idle / 3, 5.0)

    @property
    def sent(self) -> int:
        return self.schedule.sent

    def _account(self, run: RunState) -> Account | None:
        """The run's fleet-wide cap, when it has one."""
        if run.account_rate is None:
            return None
        rate = run.account_rate * run.time_scale
        return Account(
            self.client, self.keys, run.id, rate, run.account_burst, lambda: self.clock.epoch
        )

    @classmethod
    async def create(
        cls,
        client: Redis,
        settings: SenderSettings,
        stop: asyncio.Event,
        profile: SenderProfile | None = None,
        rng: random.Random | None = None,
    ) -> Sender | None:
        """Wait for the run, join its group and resolve the profile; None when ``stop``
        comes first or the run is complete already (nothing to do, nothing registered)."""
        keys = RunKeys(settings.run)
        state = await wait_for_run(client, keys, stop)
        if state is None:
            return None
        if state.complete:
            logger.info("run %r is complete already: nothing to send", keys.run)
            return None
        profile = profile or await resolve_profile(client, keys, settings, state.id)
        sender = cls(client, settings, profile, state, stop, rng)
        await sender.inbox.join()
        return sender

    async def run(self) -> None:
        """Serve the run until it completes (or ``stop`` is set); nothing is lost."""
        p = self.profile
        self.started = time.time()
        logger.info(
            "sender %s: mean_time=%gs failure_rate=%g shape=%g concurrency=%d",
            self.name,
            p.mean_time,
            p.failure_rate,
            self.gateway.shape,
            p.concurrency,
        )
        background = [
            asyncio.create_task(coro)
            for coro in (
                *([self.schedule.account.run()] if self.schedule.account else []),
                *(recorder.run() for recorder in self.recorders),
                periodic(HEARTBEAT_EVERY, self._beat),
                periodic(self._sweep_period, self._keep_fresh),
                self._wake_on_stop(),
            )
        ]
        for task in background:
            task.add_done_callback(self._background_ended)
        try:
            await self._consume()
        finally:
            try:
                await self._finish_inflight()
            finally:  # even when the run vanished meanwhile: no task is left behind
                await cancel_all(background)
        await self._beat(STOPPED)
        logger.info("sender %s: done, %d delivered", self.name, self.sent)

    async def _consume(self) -> None:
        next_sweep = 0.0
        while not self.stop.is_set():
            free = self.slots.free
            if free <= 0:
                await self.slots.wait_free()
                continue
            # Orphans first (they have waited longest), then new messages.
            taken: list[Entry] = []
            if self._loop.time() >= next_sweep:
                taken = await self._take_over(free)
                more = len(taken) == free  # a full take: look again at once
                next_sweep = self._loop.time() + (0 if more else self._sweep_period)
            self.schedule.resume()  # messages back from a backoff first
            want = min(self.slots.free - len(taken), MAX_READ)
            entries = taken + (await self.inbox.read(want) if want > 0 else [])
            if entries:
                self.schedule.start(entries)
            elif not self.slots.busy and await self._run_complete():
                return
            self.slots.check()

    async def _take_over(self, free: int) -> list[Entry]:
        """Entries idle for claim_idle on other senders (crashed, or handed back)."""
        taken = await self.inbox.take_over(free, int(self.settings.claim_idle * 1000))
        if taken:
            logger.info("sender %s: took over %d idle message(s)", self.name, len(taken))
        return taken

    def _background_ended(self, task: asyncio.Task[None]) -> None:
        """A background task (recorder, heartbeat, keep-fresh) died: the sender stops."""
        if not task.cancelled() and (exc := task.exception()) is not None:
            self.slots.fail(exc)

    async def _wake_on_stop(self) -> None:
        """A consume loop waiting for a free slot must notice ``stop`` too."""
        await self.stop.wait()
        self.slots.wake()

    async def _run_complete(self) -> bool:
        return (await require_state(self.client, self.keys, self.run_state.id)).complete

    async def _finish_inflight(self) -> None:
        """Let in-flight attempts finish within the grace period; hand back the rest."""
        if not self.slots.busy:
            return
        logger.info(
            "sender %s: finishing %d in-flight message(s) (grace %gs)",
            self.name,
            len(self.slots.held()),
            self.settings.grace,
        )
        await self.slots.drain(self.settings.grace)
        waiting = self.slots.cancel_inflight()
        if waiting:
            await self.inbox.hand_back(waiting)
            logger.info("sender %s: handed back %d message(s)", self.name, len(waiting))

    async def _beat(self, status: str = LIVE) -> None:
        now = self._loop.time()
        self.clock.resync(now)
        if status == LIVE and self.gateway.down(self.clock.sim(now)):
            status = OUTAGE
        p = self.profile
        beat = Heartbeat(
            self.name,
            mean_time=p.mean_time,
            failure_rate=p.failure_rate,
            concurrency=p.concurrency,
            status=status,
            heartbeat=time.time(),
            shape=self.gateway.shape,
            inflight=len(self.slots.inflight),
            sent=self.sent,
            max_attempts=p.max_attempts,
            started=self.started,
            error=getattr(getattr(self.client, "outage", None), "problem", ""),
            late=self.schedule.lateness.take(),
            attempt_rate=attempt_rate(p, self.gateway.outages),
            profile=p.model_dump(mode="json", by_alias=True, exclude_none=True),
        )
        await self.writes.hset(self.keys.senders, self.name, beat.to_json())

    async def _keep_fresh(self) -> None:
        """Reset the idle time of our in-flight entries well within claim_idle, so a slow
        but live sender is never robbed."""
        await self.inbox.keep_fresh(self.slots.held())


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
