"""The sender: a consumer-group member with ``concurrency`` send slots.

One ``run()`` owns the lifecycle: wait for the run, register, start the background
tasks (recorder, heartbeat, janitor), consume until the run completes or ``stop`` is
set, then hand back or finish in-flight messages and leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import time
from collections.abc import Coroutine
from typing import Any

from redis.asyncio import Redis

from common.codec import MalformedEntry, Message
from common.keys import RunKeys
from common.run import require_state, wait_for_run
from common.settings import SenderProfile, SenderSettings
from common.tasks import cancel_all
from sender.gateway import Gateway
from sender.inbox import Entry, Inbox
from sender.profile import default_name, resolve_profile
from sender.recorder import ABANDON, FAIL, MALFORMED, OK, Outcome, Recorder

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY = 1.0
MAX_READ = 200


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
        self.inflight: dict[str, asyncio.Task[None]] = {}
        self._slot_freed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.sent = 0
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
        self.profile = await resolve_profile(self.client, self.keys, self.settings)
        self.gateway = Gateway(
            self.profile.mean_time,
            self.profile.failure_rate,
            self.profile.shape or self.settings.shape,
            self._rng,
        )
        logger.info(
            "sender %s: mean_time=%gs failure_rate=%g shape=%g concurrency=%d",
            self.name,
            self.profile.mean_time,
            self.profile.failure_rate,
            self.profile.shape or 0,
            self.capacity,
        )
        background = [
            asyncio.create_task(coro)
            for coro in (self.recorder.run(), self._heartbeat(), self._keep_fresh())
        ]
        try:
            await self._consume()
        finally:
            await self._finish_inflight()
            await cancel_all(background)
            await self._beat(status="stopped")
        logger.info("sender %s: done, %d delivered", self.name, self.sent)

    async def _consume(self) -> None:
        next_sweep = 0.0
        while not self.stop.is_set():
            free = self.capacity - len(self.inflight)
            if free <= 0:
                await self._wait_slot()
                continue
            # Orphans first (they have waited longest), then new messages.
            taken: list[Entry] = []
            if self._loop.time() >= next_sweep:
                taken = await self._take_over(free)
                next_sweep = self._loop.time() + (0 if taken else self._sweep_period)
            # At most half the slots per read (one half is read while the other is being
            # recorded), and small reads: a big one delays every timer due meanwhile.
            want = min(free - len(taken), max(1, self.capacity // 2), MAX_READ)
            entries = taken + (await self.inbox.read(want) if want > 0 else [])
            if entries:
                self._start(entries)
            else:
                next_sweep = 0.0  # idle: look for orphans on every turn
                if not self.inflight and await self._run_complete():
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

    def _start(self, entries: list[Entry]) -> None:
        """One task per message; with no delay to wait, one task for the whole batch."""
        entries = [(eid, fields) for eid, fields in entries if eid not in self.inflight]
        if not entries:
            return
        assert self.gateway is not None
        if self.gateway.mean_time <= 0:
            self._track([eid for eid, _ in entries], self._settle_now(entries))
        else:
            for entry_id, fields in entries:
                self._track([entry_id], self._deliver(entry_id, fields))

    def _track(self, entry_ids: list[str], work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        for entry_id in entry_ids:
            self.inflight[entry_id] = task
        task.add_done_callback(functools.partial(self._done, entry_ids))

    def _done(self, entry_ids: list[str], task: asyncio.Task[None]) -> None:
        for entry_id in entry_ids:
            if self.inflight.get(entry_id) is task:
                del self.inflight[entry_id]
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()
        self._slot_freed.set()

    def _raise_failed(self) -> None:
        """Surface the first delivery that died of an error (e.g. the run vanished)."""
        if self._failure is not None:
            raise self._failure

    async def _wait_slot(self) -> None:
        self._slot_freed.clear()
        if self.capacity - len(self.inflight) <= 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), 0.5)
        self._raise_failed()

    async def _deliver(self, entry_id: str, fields: dict[str, str]) -> None:
        """Attempt one message, waiting out each delay, until it is settled; record it."""
        msg = self._parse(entry_id, fields)
        if isinstance(msg, Outcome):
            await self._record([msg])
            return
        attempt = 0
        while True:
            attempt += 1
            outcomes = self._attempt(entry_id, msg, attempt, await self._wait_attempt())
            if outcomes[-1].kind != FAIL:
                await self._record(outcomes)
                return
            self.recorder.add(outcomes[0])  # nobody waits for a failure to be written

    async def _settle_now(self, entries: list[Entry]) -> None:
        """Zero delay: attempt every message of the batch at once, record in one write."""
        outcomes: list[Outcome] = []
        for entry_id, fields in entries:
            msg = self._parse(entry_id, fields)
            if isinstance(msg, Outcome):
                outcomes.append(msg)
                continue
            outcomes += self._attempts_now(entry_id, msg)
        await self._record(outcomes)

    def _attempts_now(self, entry_id: str, msg: Message) -> list[Outcome]:
        outcomes: list[Outcome] = []
        while not outcomes or outcomes[-1].kind == FAIL:
            outcomes += self._attempt(entry_id, msg, len(outcomes) + 1, 0.0)
        return outcomes

    def _parse(self, entry_id: str, fields: dict[str, str]) -> Message | Outcome:
        """The message, or the dead-letter outcome of a malformed entry."""
        try:
            return Message.parse(fields)
        except MalformedEntry as exc:
            logger.warning("dead-lettering malformed entry %s: %s", entry_id, exc)
            return Outcome(MALFORMED, entry_id, fields.get("seq", ""), extra=f"malformed: {exc}")

    def _attempt(self, entry_id: str, msg: Message, attempt: int, duration: float) -> list[Outcome]:
        """One attempt: [OK], [FAIL], or [FAIL, ABANDON] once max_attempts is reached."""
        assert self.gateway is not None and self.profile is not None
        ts = time.time()
        seq = str(msg.seq)
        if not self.gateway.fails():
            return [Outcome(OK, entry_id, seq, attempt, duration, ts, f"{ts - msg.created:.6f}")]
        failed = Outcome(FAIL, entry_id, seq, attempt, duration, ts)
        if self.profile.max_attempts and attempt >= self.profile.max_attempts:
            reason = f"abandoned after {attempt} attempts"
            return [failed, Outcome(ABANDON, entry_id, seq, attempt, extra=reason)]
        return [failed]

    async def _record(self, outcomes: list[Outcome]) -> None:
        flags = await self.recorder.submit(outcomes)
        self.sent += sum(1 for o, new in zip(outcomes, flags, strict=True) if new and o.kind == OK)

    async def _wait_attempt(self) -> float:
        assert self.gateway is not None
        delay = self.gateway.delay()
        if delay <= 0:
            return 0.0
        started = self._loop.time()
        await asyncio.sleep(delay)
        return self._loop.time() - started

    async def _run_complete(self) -> bool:
        return (await require_state(self.client, self.keys)).complete

    async def _finish_inflight(self) -> None:
        """Let in-flight attempts finish within the grace period; hand back the rest."""
        if not self.inflight:
            return
        tasks = set(self.inflight.values())
        logger.info(
            "sender %s: finishing %d in-flight message(s) (grace %gs)",
            self.name,
            len(tasks),
            self.settings.grace,
        )
        _, late = await asyncio.wait(tasks, timeout=self.settings.grace)
        unfinished = [eid for eid, task in self.inflight.items() if task in late]
        await cancel_all(late)
        if unfinished:
            await self.inbox.hand_back(unfinished)
            logger.info("sender %s: handed back %d message(s)", self.name, len(unfinished))

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
            await self.inbox.keep_fresh(list(self.inflight))
