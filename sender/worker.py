"""The sender: a consumer-group member with ``concurrency`` send slots.

One ``run()`` owns the lifecycle: wait for the run, register, start the background
tasks (recorder, heartbeat, freshness), consume until the run completes or ``stop`` is
set, then finish or hand back in-flight messages and leave.

A slot holds one message from the moment it is read until its attempts are over; the
outcome then waits for the recorder's next batch while the slot takes the next message
(still pending in Redis, and kept fresh, until the write acks it). An attempt's delay is
a timer on the event loop (no task per message); with no delay to wait, a whole read is
attempted at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import time

from redis.asyncio import Redis

from common.codec import Message
from common.keys import RunKeys
from common.run import require_state, wait_for_run
from common.settings import SenderProfile, SenderSettings
from common.tasks import cancel_all
from sender.attempts import Attempts, parse_entry
from sender.gateway import Gateway
from sender.inbox import Entry, Inbox
from sender.profile import default_name, resolve_profile
from sender.recorder import FAIL, OK, Outcome, Recorder

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY = 1.0
MAX_READ = 200
MAX_RECORDING = 2000  # outcomes waiting to be written before reading stops


class Sender:
    def __init__(
        self,
        client: Redis,
        settings: SenderSettings,
        stop: asyncio.Event,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.stop = stop
        self.keys = RunKeys(settings.run)
        self.name = settings.name or default_name()
        self.inbox = Inbox(client, self.keys, self.name, block_ms=int(settings.block * 1000))
        self.recorder = Recorder(client, self.keys, self.name)
        self.profile: SenderProfile | None = None
        self.gateway: Gateway | None = None
        self.attempts: Attempts | None = None
        self.inflight: dict[str, asyncio.TimerHandle] = {}  # entry id -> its next attempt
        self.recording: set[str] = set()  # attempted, outcome not written yet
        self.sent = 0
        self._slot_freed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._rng = rng or random.Random(settings.seed)
        self._sweep_period = min(settings.claim_idle / 3, 5.0)
        self._failure: BaseException | None = None

    @property
    def capacity(self) -> int:
        return self.profile.concurrency if self.profile else 1

    async def run(self) -> None:
        """Serve the run until it completes (or ``stop`` is set); nothing is lost."""
        if await wait_for_run(self.client, self.keys, self.stop) is None:
            return
        await self.inbox.join()
        self.profile = profile = await resolve_profile(self.client, self.keys, self.settings)
        shape = profile.shape or self.settings.shape
        self.gateway = Gateway(profile.mean_time, profile.failure_rate, shape, self._rng)
        self.attempts = Attempts(self.gateway, profile.max_attempts)
        logger.info(
            "sender %s: mean_time=%gs failure_rate=%g shape=%g concurrency=%d",
            self.name,
            profile.mean_time,
            profile.failure_rate,
            shape,
            self.capacity,
        )
        background = [
            asyncio.create_task(coro)
            for coro in (
                self.recorder.run(),
                self._heartbeat(),
                self._keep_fresh(),
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
        await self._beat(status="stopped")
        logger.info("sender %s: done, %d delivered", self.name, self.sent)

    async def _consume(self) -> None:
        next_sweep = 0.0
        while not self.stop.is_set():
            free = self._free()
            if free <= 0:
                await self._wait_slot()
                continue
            # Orphans first (they have waited longest), then new messages.
            taken: list[Entry] = []
            if self._loop.time() >= next_sweep:
                taken = await self._take_over(free)
                next_sweep = self._loop.time() + (0 if taken else self._sweep_period)
            # Small reads: a big one delays every timer due meanwhile.
            want = min(free - len(taken), MAX_READ)
            entries = taken + (await self.inbox.read(want) if want > 0 else [])
            if entries:
                self._start(entries)
            else:
                next_sweep = 0.0  # idle: look for orphans on every turn
                if not self.inflight and not self.recording and await self._run_complete():
                    return
            self._raise_failed()

    async def _take_over(self, free: int) -> list[Entry]:
        """Entries idle for claim_idle on other senders (crashed, or handed back)."""
        if free <= 0:
            return []
        taken = await self.inbox.take_over(free, int(self.settings.claim_idle * 1000))
        if taken:
            logger.info("sender %s: took over %d idle message(s)", self.name, len(taken))
        return taken

    def _free(self) -> int:
        """Free slots, or none while the recorder has a full batch waiting."""
        if len(self.recording) >= MAX_RECORDING:
            return 0
        return self.capacity - len(self.inflight)

    def _start(self, entries: list[Entry]) -> None:
        """Take a slot per message: attempt it now (no delay) or when its timer fires."""
        assert self.attempts is not None and self.gateway is not None
        settle_now: list[Outcome] = []
        for entry_id, fields in entries:
            if entry_id in self.inflight or entry_id in self.recording:
                continue
            msg = parse_entry(entry_id, fields)
            if isinstance(msg, Outcome):
                settle_now.append(msg)
            elif self.gateway.mean_time <= 0:
                settle_now += self.attempts.all_now(entry_id, msg)
            else:
                self._schedule(entry_id, msg, 1)
        if settle_now:
            self._settle(settle_now)

    def _schedule(self, entry_id: str, msg: Message, attempt: int) -> None:
        assert self.gateway is not None
        started = self._loop.time()
        self.inflight[entry_id] = self._loop.call_at(
            started + self.gateway.delay(), self._attempt_due, entry_id, msg, attempt, started
        )

    def _attempt_due(self, entry_id: str, msg: Message, attempt: int, started: float) -> None:
        """A timer fired: the attempt is over; retry on failure, else record."""
        assert self.attempts is not None
        try:
            outcomes = self.attempts.one(entry_id, msg, attempt, self._loop.time() - started)
            if outcomes[-1].kind == FAIL:
                self.recorder.add(outcomes[0])  # nobody waits for a failure to be written
                self._schedule(entry_id, msg, attempt + 1)
            else:
                self._settle(outcomes)
        except Exception as exc:
            self._fail(exc)

    def _settle(self, outcomes: list[Outcome]) -> None:
        """The messages' attempts are over: free their slots; write the outcomes."""
        for outcome in outcomes:
            self.inflight.pop(outcome.entry_id, None)
            self.recording.add(outcome.entry_id)
        self._slot_freed.set()
        written = self.recorder.submit_nowait(outcomes)
        written.add_done_callback(functools.partial(self._settled, outcomes))

    def _settled(self, outcomes: list[Outcome], written: asyncio.Future[list[bool]]) -> None:
        self.recording.difference_update(o.entry_id for o in outcomes)
        self._slot_freed.set()
        if written.cancelled():
            self._fail(asyncio.CancelledError())
        elif (exc := written.exception()) is not None:
            self._fail(exc)
        else:
            flags = written.result()
            self.sent += sum(
                1 for o, new in zip(outcomes, flags, strict=True) if new and o.kind == OK
            )

    def _background_ended(self, task: asyncio.Task[None]) -> None:
        """A background task (recorder, heartbeat, freshness) died: the sender stops."""
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        """Record a failure for the consume loop to raise, and wake it if it waits."""
        self._failure = self._failure or exc
        self._slot_freed.set()

    def _raise_failed(self) -> None:
        """Surface the first delivery that died of an error (e.g. the run vanished)."""
        if self._failure is not None:
            raise self._failure

    async def _wait_slot(self) -> None:
        self._slot_freed.clear()
        if self._free() <= 0 and self._failure is None:
            await self._slot_freed.wait()
        self._raise_failed()

    async def _wake_on_stop(self) -> None:
        """A consume loop waiting for a free slot must notice ``stop`` too."""
        await self.stop.wait()
        self._slot_freed.set()

    async def _run_complete(self) -> bool:
        return (await require_state(self.client, self.keys)).complete

    async def _finish_inflight(self) -> None:
        """Let in-flight attempts finish within the grace period; hand back the rest."""
        if not self.inflight and not self.recording:
            return
        logger.info(
            "sender %s: finishing %d in-flight message(s) (grace %gs)",
            self.name,
            len(self.inflight) + len(self.recording),
            self.settings.grace,
        )
        deadline = self._loop.time() + self.settings.grace
        while (self.inflight or self.recording) and self._failure is None:
            if self._loop.time() >= deadline:
                break
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), deadline - self._loop.time())
        waiting = list(self.inflight)
        for timer in self.inflight.values():
            timer.cancel()
        if waiting:
            await self.inbox.hand_back(waiting)
            logger.info("sender %s: handed back %d message(s)", self.name, len(waiting))

    async def _heartbeat(self) -> None:
        while True:
            await self._beat(status="live")
            await asyncio.sleep(HEARTBEAT_EVERY)

    async def _beat(self, status: str) -> None:
        assert self.profile is not None
        record = {
            **self.profile.model_dump(),
            "status": status,
            "heartbeat": time.time(),
            "inflight": len(self.inflight),
            "sent": self.sent,
        }
        await self.client.hset(self.keys.senders, self.name, json.dumps(record))

    async def _keep_fresh(self) -> None:
        """Reset the idle time of our in-flight entries well within claim_idle, so a slow
        but live sender is never robbed."""
        while True:
            await asyncio.sleep(self._sweep_period)
            await self.inbox.keep_fresh([*self.inflight, *self.recording])
