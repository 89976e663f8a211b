"""The sender: a consumer-group member with ``concurrency`` send slots.

``serve`` waits for the run, resolves the sender's profile and builds the ``Sender``;
``Sender.run`` owns the lifecycle: start the background tasks (recorder, heartbeat,
keep-fresh), consume until the run completes or ``stop`` is set, then finish or hand
back in-flight messages and leave.

An attempt's delay is a timer on the event loop (no task per message), set on the slot's
own schedule (``sender.slots``); with no delay to wait, a whole read is attempted at once.
Orphans (messages idle on a crashed or stopped sender) are looked for every
``claim_idle / 3`` seconds, in one scan of the pending list.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from common.codec import Message
from common.heartbeat import LIVE, STOPPED, Heartbeat
from common.keys import RunKeys
from common.run import RunState, RunWrites, require_state, wait_for_run
from common.settings import SenderProfile, SenderSettings
from common.tasks import cancel_all, periodic
from sender.attempts import Attempts, parse_entry
from sender.gateway import Gateway
from sender.inbox import Entry, Inbox
from sender.profile import default_name, resolve_profile
from sender.recorder import FAIL, OK, Outcome, Recorder
from sender.slots import Slots

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY = 1.0
MAX_READ = 200  # small reads: a big one delays every timer due meanwhile
# A slot starts a message at most this far back (when it freed, or when the message was
# enqueued); further back means the process cannot keep up with the fleet it simulates,
# and the lateness of its attempts says so.
MAX_BACKDATE = 1.0


@dataclass(slots=True)
class Lateness:
    """How late attempts end against their schedule, over the last heartbeat period."""

    total: float = 0.0
    count: int = 0

    def add(self, late: float) -> None:
        self.total += late
        self.count += 1

    def take(self) -> float:
        """The mean lateness since the last call (0 with no attempt)."""
        mean = self.total / self.count if self.count else 0.0
        self.total, self.count = 0.0, 0
        return mean


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
        self.inbox = Inbox(client, self.keys, self.name, block_ms=settings.block * 1000)
        self.recorder = Recorder(client, self.keys, self.name, run_id=run.id)
        shape = profile.shape or settings.shape
        self.gateway = Gateway(
            profile.mean_time, profile.failure_rate, shape, rng or random.Random(settings.seed)
        )
        self.attempts = Attempts(self.gateway, profile.max_attempts)
        self.slots = Slots(profile.concurrency)
        self.sent = 0
        self.started = time.time()
        self._loop = asyncio.get_running_loop()
        self._sweep_period = min(settings.claim_idle / 3, 5.0)
        self._epoch = time.time() - self._loop.time()  # epoch seconds at loop time 0
        self._late = Lateness()

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
                self.recorder.run(),
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
            want = min(free - len(taken), MAX_READ)
            entries = taken + (await self.inbox.read(want) if want > 0 else [])
            if entries:
                self._start(entries)
            elif not self.slots.busy and await self._run_complete():
                return
            self.slots.check()

    async def _take_over(self, free: int) -> list[Entry]:
        """Entries idle for claim_idle on other senders (crashed, or handed back)."""
        taken = await self.inbox.take_over(free, int(self.settings.claim_idle * 1000))
        if taken:
            logger.info("sender %s: took over %d idle message(s)", self.name, len(taken))
        return taken

    def _start(self, entries: list[Entry]) -> None:
        """Take a slot per message: attempt it now (no delay) or when its timer fires."""
        settle_now: list[Outcome] = []
        now = self._loop.time()
        for entry_id, fields in entries:
            if self.slots.holds(entry_id):
                continue
            msg = parse_entry(entry_id, fields, self.run_state.total)
            if isinstance(msg, Outcome):  # a dead letter: settled at once, no slot held
                settle_now.append(msg)
            elif self.gateway.mean_time <= 0:  # no delay: every attempt at once
                settle_now += self.attempts.all_now(entry_id, msg)
            else:
                since = self.slots.take()
                start = min(now, max(since, msg.created - self._epoch, now - MAX_BACKDATE))
                self._schedule(entry_id, msg, 1, start)
        if settle_now:
            self._settle(settle_now)

    def _schedule(self, entry_id: str, msg: Message, attempt: int, start: float) -> None:
        """The attempt runs from ``start`` (loop time) for a drawn delay."""
        end = start + self.gateway.delay()
        timer = self._loop.call_at(end, self._attempt_due, entry_id, msg, attempt, start, end)
        self.slots.attempt(entry_id, timer)

    def _attempt_due(
        self, entry_id: str, msg: Message, attempt: int, start: float, end: float
    ) -> None:
        """A timer fired: the attempt is over; retry on failure, else record. The next
        attempt, or the slot's next message, starts when this one was due to end."""
        try:
            late = self._loop.time() - end
            self._late.add(late)
            outcomes = self.attempts.one(entry_id, msg, attempt, end - start, late)
            if outcomes[-1].kind == FAIL:
                self.recorder.add(outcomes[0])  # nobody waits for a failure to be written
                self._schedule(entry_id, msg, attempt + 1, end)
            else:
                self._settle(outcomes, end)
        except Exception as exc:
            self.slots.fail(exc)

    def _settle(self, outcomes: list[Outcome], free_at: float | None = None) -> None:
        """The messages' attempts are over: free their slots; write the outcomes."""
        if free_at is not None:
            self.slots.settled([outcomes[0].entry_id], [free_at])
        else:  # settled on reading: their slots are free again already
            self.slots.settled([o.entry_id for o in outcomes], [])
        written = self.recorder.submit_nowait(outcomes)
        written.add_done_callback(functools.partial(self._written, outcomes))

    def _written(self, outcomes: list[Outcome], written: asyncio.Future[list[bool]]) -> None:
        self.slots.written([o.entry_id for o in outcomes])
        if written.cancelled():
            self.slots.fail(asyncio.CancelledError())
        elif (exc := written.exception()) is not None:
            self.slots.fail(exc)
        else:
            flags = written.result()
            self.sent += sum(
                1 for o, new in zip(outcomes, flags, strict=True) if new and o.kind == OK
            )

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
        self._epoch = time.time() - self._loop.time()  # the wall clock may have been set
        beat = Heartbeat(
            self.name,
            **self.profile.model_dump(exclude={"shape"}),
            shape=self.gateway.shape,
            status=status,
            heartbeat=time.time(),
            inflight=len(self.slots.inflight),
            sent=self.sent,
            started=self.started,
            late=self._late.take(),
            error=getattr(getattr(self.client, "outage", None), "problem", ""),
        )
        await self.writes.hset(self.keys.senders, self.name, beat.to_json())

    async def _keep_fresh(self) -> None:
        """Reset the idle time of our in-flight entries well within claim_idle, so a slow
        but live sender is never robbed."""
        await self.inbox.keep_fresh(self.slots.held())
