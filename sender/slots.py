"""A sender's send slots: which messages hold one, and what waits to be written.

A slot holds a message from the moment it is read until its attempts are over
(``inflight``: entry id -> the timer of its next attempt). Its outcome then waits for
the recorder's next batch (``recording``) while the slot takes the next message. Both
stay pending in Redis, and are kept fresh, until the write acks them.

The consume loop waits on ``freed``; a failure anywhere (a timer callback, the
recorder, a background task) is kept here and raised by the loop (``check``).
"""

from __future__ import annotations

import asyncio
import contextlib

MAX_RECORDING = 2000  # outcomes waiting to be written before reading stops


class Slots:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.inflight: dict[str, asyncio.TimerHandle] = {}
        self.recording: set[str] = set()
        self._freed = asyncio.Event()
        self._failure: BaseException | None = None

    @property
    def free(self) -> int:
        """Free slots, or none while the recorder has a full batch waiting."""
        if len(self.recording) >= MAX_RECORDING:
            return 0
        return self.capacity - len(self.inflight)

    @property
    def busy(self) -> bool:
        return bool(self.inflight or self.recording)

    def holds(self, entry_id: str) -> bool:
        return entry_id in self.inflight or entry_id in self.recording

    def held(self) -> list[str]:
        """Every entry id this sender holds (to keep fresh)."""
        return [*self.inflight, *self.recording]

    def attempt(self, entry_id: str, timer: asyncio.TimerHandle) -> None:
        """``entry_id`` holds a slot until ``timer`` (its next attempt) fires."""
        self.inflight[entry_id] = timer

    def settled(self, entry_ids: list[str]) -> None:
        """Their attempts are over: the slots free, the outcomes wait to be written."""
        for entry_id in entry_ids:
            self.inflight.pop(entry_id, None)
            self.recording.add(entry_id)
        self._freed.set()

    def written(self, entry_ids: list[str]) -> None:
        self.recording.difference_update(entry_ids)
        self._freed.set()

    def cancel_inflight(self) -> list[str]:
        """Stop every pending attempt; the ids they held (to hand back)."""
        waiting = list(self.inflight)
        for timer in self.inflight.values():
            timer.cancel()
        self.inflight.clear()
        return waiting

    def fail(self, exc: BaseException) -> None:
        """Keep the first failure for ``check``, and wake a waiting loop."""
        self._failure = self._failure or exc
        self._freed.set()

    def wake(self) -> None:
        self._freed.set()

    def check(self) -> None:
        """Raise the first failure, if any."""
        if self._failure is not None:
            raise self._failure

    @property
    def failed(self) -> bool:
        return self._failure is not None

    async def wait_free(self) -> None:
        """Until a slot frees (or a failure or ``wake``)."""
        self._freed.clear()
        if self.free <= 0 and self._failure is None:
            await self._freed.wait()
        self.check()

    async def drain(self, within: float) -> None:
        """Until nothing is held, a failure, or ``within`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self.busy and self._failure is None and loop.time() < deadline:
            self._freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._freed.wait(), deadline - loop.time())
