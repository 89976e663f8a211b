"""A process's senders and the Redis round trips they share.

Each sender keeps its identity (name, profile, slots, schedule, heartbeat, statistics:
``sender.worker``); a station carries the I/O of all the senders of one process:

- one reader per partition (one consumer of the group, named after the station) reads
  for every free slot of every sender, and hands each message to the slot that has been
  free longest, whichever sender's it is (as if that slot had read it itself);
- one recorder per partition writes every sender's outcomes in shared batches (each line
  names its sender; ``record.lua``'s per-batch guarantees hold for a mixed batch);
- one account reserves the fleet-wide cap's tokens for every waiting attempt of the
  process at once;
- one heartbeat write carries every sender's beat, one sweep keeps every held message
  fresh, one scan takes orphans over.

A station lingers a few milliseconds after a slot frees before it reads (10 ms, at most
0.2 simulated seconds), so one read serves the slots freed meanwhile: the slots'
schedules are backdated to when each freed (``sender.schedule``), so the wait costs no
simulated time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import logging
import random
from collections import defaultdict
from collections.abc import Sequence

from redis.asyncio import Redis

from common import clock
from common.heartbeat import LIVE, STOPPED
from common.keys import RunKeys
from common.model import SenderProfile
from common.run import RunState, RunWrites, require_state, wait_for_run
from common.settings import SenderSettings
from common.tasks import cancel_all, periodic
from sender.account import Account
from sender.inbox import Entry
from sender.partitions import Outboxes
from sender.profile import default_name, resolve_profile
from sender.recorder import Recorder
from sender.schedule import Clock
from sender.worker import Sender

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY = 1.0
MAX_READ = 500  # entries of one read: a big one delays every timer due meanwhile
SLACK = 4  # free slots per entry read beyond which they are not sorted one by one
READ_LINGER = 0.01  # real seconds a freed slot waits at most for others to share its read
SIM_READ_LINGER = 0.2  # simulated seconds it waits at most (the order slots read in)

Fleet = Sequence[tuple[SenderSettings, SenderProfile | None]]


class Station:
    def __init__(self, client: Redis, settings: SenderSettings, run: RunState, name: str) -> None:
        """``settings``: what the senders share (run, claim_idle, grace, block)."""
        self.client = client
        self.settings = settings
        self.run_state = run
        self.name = name
        self.keys = RunKeys(settings.run)
        self.writes = RunWrites(client, self.keys, run.id)
        self.inbox = Outboxes(client, self.keys, name, settings.block * 1000, run.partitions)
        self.recorders = [
            Recorder(client, part, name, run_id=run.id) for part in self.keys.parts(run.partitions)
        ]
        self._loop = asyncio.get_running_loop()
        self.clock = Clock(run.created or clock.now(), run.time_scale, 0.0)
        self.clock.resync(self._loop.time())
        self.account = self._account(run)
        self.freed = asyncio.Event()  # set when any sender's slot frees
        self.senders: list[Sender] = []
        self._sweep_period = min(settings.claim_idle / 3, 5.0)
        self._linger_for = min(READ_LINGER, SIM_READ_LINGER / run.time_scale)

    def _account(self, run: RunState) -> Account | None:
        """The run's fleet-wide cap, when it has one."""
        if run.account_rate is None:
            return None
        rate = run.account_rate * run.time_scale
        return Account(self.client, self.keys, run.id, rate, run.account_burst, run.time_scale)

    @classmethod
    async def create(
        cls,
        client: Redis,
        fleet: Fleet,
        stop: asyncio.Event,
        name: str | None = None,
        rngs: Sequence[random.Random | None] = (),
    ) -> Station | None:
        """Wait for the run, join its group and resolve each sender's profile (None: the
        flags', or the next one claimed from the config); None when ``stop`` comes first
        or the run is complete already (nothing to do, nothing registered). ``name``: the
        station's (its consumer's) name; default: its only sender's, else host-pid."""
        shared = fleet[0][0]
        keys = RunKeys(shared.run)
        state = await wait_for_run(client, keys, stop)
        if state is None:
            return None
        if state.complete:
            logger.info("run %r is complete already: nothing to send", keys.run)
            return None
        if name is None:
            name = (shared.name or default_name()) if len(fleet) == 1 else default_name()
        station = cls(client, shared, state, name)
        for i, (settings, given) in enumerate(fleet):
            profile = given or await resolve_profile(client, keys, settings, state.id)
            rng = rngs[i] if i < len(rngs) else None
            station.senders.append(Sender(station, settings, profile, rng))
        await station.inbox.join()
        return station

    async def run(
        self, stop: asyncio.Event, created: float | None = None, summarised: bool = False
    ) -> None:
        """Serve the run until it completes (or ``stop`` is set); nothing is lost.
        ``created``: the run's time 0, when it was set after the station joined
        (``sms-sim run`` starts its clock once its whole fleet has joined).
        ``summarised``: a summary listing every sender ends the output (``sms-sim run``),
        so the senders' own end lines are debug lines, not printed after it."""
        if created is not None:
            self.run_state = dataclasses.replace(self.run_state, created=created)
            self.clock.created = created
            self.clock.resync(self._loop.time())
            for sender in self.senders:
                sender.schedule.run = self.run_state
        for sender in self.senders:
            sender.started = clock.now()
            sender.log_start()
        background = [
            asyncio.create_task(coro)
            for coro in (
                *([self.account.run()] if self.account else []),
                *(recorder.run() for recorder in self.recorders),
                periodic(HEARTBEAT_EVERY, self._beat),
                periodic(self._sweep_period, self._keep_fresh),
                self._wake_on(stop),
            )
        ]
        for task in background:
            task.add_done_callback(self._background_ended)
        try:
            await self._consume(stop)
        finally:
            try:
                await self._finish_inflight()
            finally:  # even when the run vanished meanwhile: no task is left behind
                await cancel_all(background)
        await self._beat(STOPPED)
        self._say_done(summarised)

    def _say_done(self, summarised: bool) -> None:
        """Each sender's end line; several senders: one line for all of them, each one's
        at debug; none but debug lines under a summary."""
        alone = len(self.senders) == 1 and not summarised
        for sender in self.senders:
            level = logging.INFO if alone else logging.DEBUG
            logger.log(level, "sender %s: done, %d delivered", sender.name, sender.sent)
        if len(self.senders) > 1 and not summarised:
            delivered = sum(sender.sent for sender in self.senders)
            logger.info("%d senders done, %d delivered", len(self.senders), delivered)

    async def _consume(self, stop: asyncio.Event) -> None:
        next_sweep = 0.0
        while not stop.is_set():
            for sender in self.senders:
                sender.schedule.resume()  # messages back from a backoff first
            free = self._free()
            if free <= 0:
                await self._wait_free()
                continue
            if await self._linger(stop):
                continue  # more slots are free now, and backoffs may have ended
            # Orphans first (they have waited longest), then new messages.
            taken: list[Entry] = []
            if self._loop.time() >= next_sweep:
                taken = await self._take_over(free)
                more = len(taken) == free  # a full take: look again at once
                next_sweep = self._loop.time() + (0 if more else self._sweep_period)
            want = min(free - len(taken), MAX_READ)
            entries = taken + (await self.inbox.read(want, self._block_ms()) if want > 0 else [])
            if entries:
                self._dispatch(entries)
            elif not self._busy() and await self._run_complete():
                return
            self._check()

    def _block_ms(self) -> int:
        """How long a read may wait for new messages: ``block``, or until the next
        message backing off is ready again (a retry is not held up by an empty outbox)."""
        block = self.settings.block
        wakes = [t for s in self.senders if (t := s.slots.next_wake()) is not None]
        if wakes:
            block = min(block, min(wakes) - self._loop.time())
        return max(1, round(block * 1000))

    def _free(self) -> int:
        return sum(sender.slots.free for sender in self.senders)

    def _busy(self) -> bool:
        return any(sender.slots.busy for sender in self.senders)

    def _check(self) -> None:
        """Raise the first failure of any sender (a timer callback, a write)."""
        for sender in self.senders:
            sender.slots.check()

    async def _wait_free(self) -> None:
        """Until a slot frees (or a failure, or ``stop``)."""
        self.freed.clear()
        if self._free() <= 0:
            await self.freed.wait()
        self._check()

    async def _linger(self, stop: asyncio.Event) -> bool:
        """Wait until the slot free longest has been free for a moment, so that one
        read serves the slots freeing meanwhile; whether it waited. A slot free longer
        already (the process is behind, or the outbox was empty) reads at once."""
        since = [t for s in self.senders if (t := s.slots.first_free()) is not None]
        wait = min(since, default=0.0) + self._linger_for - self._loop.time()
        if wait <= 0 or stop.is_set():
            return False
        await asyncio.sleep(wait)
        return True

    def _dispatch(self, entries: list[Entry]) -> None:
        """Each entry to the slot free longest (the oldest entry first)."""
        if len(self.senders) == 1:
            self.senders[0].schedule.start(entries)
            return
        owners = self._owners(len(entries))
        groups: dict[int, list[Entry]] = defaultdict(list)
        for n, entry in enumerate(entries):
            groups[owners[n] if n < len(owners) else n % len(self.senders)].append(entry)
        for i, group in groups.items():
            self.senders[i].schedule.start(group)

    def _owners(self, n: int) -> list[int]:
        """The senders of the ``n`` slots free longest. With many more slots free than
        that (a fleet starting, or idle), those slots have waited long and any of them
        starts a message as of when it was enqueued: the senders whose first free slot
        is oldest take as many as they have free, without sorting every slot."""
        if self._free() > SLACK * n:
            firsts = [(s.slots.first_free(), i) for i, s in enumerate(self.senders)]
            owners: list[int] = []
            for _, i in sorted((t, i) for t, i in firsts if t is not None):
                owners += [i] * min(self.senders[i].slots.free, n - len(owners))
                if len(owners) >= n:
                    break
            return owners
        slots = [(t, i) for i, sender in enumerate(self.senders) for t in sender.slots.free_times()]
        return [i for _, i in heapq.nsmallest(n, slots)]

    async def _take_over(self, free: int) -> list[Entry]:
        """Entries idle for claim_idle on other consumers (crashed, or handed back)."""
        taken = await self.inbox.take_over(free, int(self.settings.claim_idle * 1000))
        if taken:
            logger.info("%s: took over %d idle message(s)", self.name, len(taken))
        return taken

    def _background_ended(self, task: asyncio.Task[None]) -> None:
        """A background task (recorder, account, heartbeat, keep-fresh) died: every
        sender of the station stops."""
        if not task.cancelled() and (exc := task.exception()) is not None:
            for sender in self.senders:
                sender.slots.fail(exc)

    async def _wake_on(self, stop: asyncio.Event) -> None:
        """A consume loop waiting for a free slot must notice ``stop`` too."""
        await stop.wait()
        self.freed.set()

    async def _run_complete(self) -> bool:
        return (await require_state(self.client, self.keys, self.run_state.id)).complete

    async def _finish_inflight(self) -> None:
        """Let in-flight attempts finish within the grace period; hand back the rest."""
        for sender in self.senders:
            sender.schedule.draining = True
        if not self._busy():
            return
        held = sum(len(sender.slots.held()) for sender in self.senders)
        logger.info(
            "%s: finishing %d in-flight message(s) (grace %gs)",
            self.name,
            held,
            self.settings.grace,
        )
        await asyncio.gather(*(s.slots.drain(self.settings.grace) for s in self.senders))
        waiting = [i for sender in self.senders for i in sender.slots.cancel_inflight()]
        if waiting:
            await self.inbox.hand_back(waiting)
            logger.info("%s: handed back %d message(s)", self.name, len(waiting))

    async def _beat(self, status: str = LIVE) -> None:
        """Every sender's heartbeat, in one write."""
        await clock.CLOCK.refresh(self.client)
        now = self._loop.time()
        self.clock.resync(now)
        error = getattr(getattr(self.client, "outage", None), "problem", "")
        beats = {s.name: s.heartbeat(status, self.clock.sim(now), error) for s in self.senders}
        await self.writes.hset_many(self.keys.senders, beats)

    async def _keep_fresh(self) -> None:
        """Reset the idle time of every held entry well within claim_idle, so a slow but
        live sender is never robbed."""
        await self.inbox.keep_fresh([i for sender in self.senders for i in sender.slots.held()])


async def serve_fleet(
    client: Redis,
    fleet: Fleet,
    stop: asyncio.Event,
    name: str | None = None,
    rngs: Sequence[random.Random | None] = (),
) -> Station | None:
    """Serve the run with these senders in one station until it completes (or ``stop``);
    None if it never started serving."""
    station = await Station.create(client, fleet, stop, name, rngs)
    if station is not None:
        await station.run(stop)
    return station


async def serve(
    client: Redis,
    settings: SenderSettings,
    stop: asyncio.Event,
    profile: SenderProfile | None = None,
    rng: random.Random | None = None,
) -> Sender | None:
    """One sender in a station of its own (``profile`` None: the flags', or the next one
    claimed from the config); None if it never started serving."""
    station = await serve_fleet(client, [(settings, profile)], stop, rngs=[rng])
    return station.senders[0] if station is not None else None
