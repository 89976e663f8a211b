"""A sender's send slots: which messages hold one, when each free slot became free, and
what waits to be written.

Each slot keeps its own schedule (event-loop time). A message's attempts follow one
another back to back on the intended times (an attempt starts when the previous one was
due to end, not when its timer happened to fire), and a slot that frees at time T takes
its next message as of T, or as of the message's own enqueue time if later (as a real
gateway would have), however late the read that brings it; a slot never used is free
as of when its sender joined. So a busy event loop or a
round trip to Redis does not stretch the fleet's schedule: what it costs shows as each
attempt's lateness (``late``), reported beside the model's own times.

A slot holds a message from the moment it is read until its attempts are over
(``inflight``: entry id -> the timer of its next attempt). Its outcome then waits for
the recorder's next batch (``recording``) while the slot takes the next message. A
message waiting out a retry backoff holds no slot (``waiting``, then ``ready`` to take
the next free one). All of them stay pending in Redis, and are kept fresh, until the
write acks them.

The consume loop waits on ``freed``; a failure anywhere (a timer callback, the
recorder, a background task) is kept here and raised by the loop (``check``).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections import deque
from typing import Any

MAX_RECORDING = 2000  # outcomes waiting to be written before reading stops


class Slots:
    def __init__(self, capacity: int, opened: float, freed: asyncio.Event | None = None) -> None:
        """``capacity`` slots, free as of ``opened`` (loop time): a sender's slots cannot
        have sent anything before it joined the run. ``freed``: the event set when a slot
        frees (shared by the senders of a station: one loop waits for any of them)."""
        self.capacity = capacity
        self.inflight: dict[str, asyncio.TimerHandle | None] = {}  # None: waits for a token
        self.recording: set[str] = set()
        self.waiting: dict[str, asyncio.TimerHandle] = {}  # backing off: id -> its wake-up
        self.ready: deque[tuple[str, Any]] = deque()  # backed off: (id, what to resume)
        self._free_since: list[float] = [opened] * capacity  # a heap: when each became free
        self._freed = freed or asyncio.Event()
        self._failure: BaseException | None = None

    @property
    def free(self) -> int:
        """Free slots, or none while the recorder has a full batch waiting."""
        if len(self.recording) >= MAX_RECORDING:
            return 0
        return len(self._free_since)

    @property
    def vacant(self) -> bool:
        """Whether a slot is free to take (even while the recorder has a full batch)."""
        return bool(self._free_since)

    def free_times(self) -> list[float]:
        """When each free slot became free (in no order); none while ``free`` is 0."""
        return list(self._free_since) if self.free > 0 else []

    def next_wake(self) -> float | None:
        """When the next message backing off is ready again (None: none backs off)."""
        return min((timer.when() for timer in self.waiting.values()), default=None)

    def first_free(self) -> float | None:
        """When the slot free longest became free (None: none is free)."""
        return self._free_since[0] if self.free > 0 else None

    @property
    def busy(self) -> bool:
        return bool(self.inflight or self.recording or self.waiting or self.ready)

    def holds(self, entry_id: str) -> bool:
        return (
            entry_id in self.inflight
            or entry_id in self.recording
            or entry_id in self.waiting
            or any(entry_id == held for held, _ in self.ready)
        )

    def held(self) -> list[str]:
        """Every entry id this sender holds (to keep fresh)."""
        return [*self.inflight, *self.recording, *self.waiting, *(i for i, _ in self.ready)]

    def release(self, entry_id: str, free_at: float, wake: asyncio.TimerHandle) -> None:
        """``entry_id`` backs off: its slot is free as of ``free_at``; ``wake`` makes it
        ready again (``wakes``)."""
        self.inflight.pop(entry_id, None)
        self.waiting[entry_id] = wake
        heapq.heappush(self._free_since, free_at)
        self._freed.set()

    def wakes(self, entry_id: str, resume: Any) -> None:
        """A backed-off message is ready for the next free slot."""
        self.waiting.pop(entry_id, None)
        self.ready.append((entry_id, resume))
        self._freed.set()

    def take(self) -> float:
        """Take the slot free longest; when it became free."""
        return heapq.heappop(self._free_since)

    @property
    def failed(self) -> bool:
        return self._failure is not None

    def attempt(self, entry_id: str, timer: asyncio.TimerHandle | None) -> None:
        """``entry_id`` holds a slot until ``timer`` (its next attempt) fires."""
        self.inflight[entry_id] = timer

    def settled(self, entry_ids: list[str], free_at: list[float]) -> None:
        """Their attempts are over (each slot free as of ``free_at``): the slots free, the
        outcomes wait to be written."""
        for entry_id in entry_ids:
            self.inflight.pop(entry_id, None)
            self.recording.add(entry_id)
        for at in free_at:
            heapq.heappush(self._free_since, at)
        self._freed.set()

    def written(self, entry_ids: list[str]) -> None:
        self.recording.difference_update(entry_ids)
        self._freed.set()

    def cancel_inflight(self) -> list[str]:
        """Stop every pending attempt and wake-up; the ids they held (to hand back)."""
        held = [*self.inflight, *self.waiting, *(i for i, _ in self.ready)]
        for timer in (*self.inflight.values(), *self.waiting.values()):
            if timer is not None:
                timer.cancel()
        self.inflight.clear()
        self.waiting.clear()
        self.ready.clear()
        return held

    def fail(self, exc: BaseException) -> None:
        """Keep the first failure for ``check``, and wake a waiting loop."""
        self._failure = self._failure or exc
        self._freed.set()

    def check(self) -> None:
        """Raise the first failure, if any."""
        if self._failure is not None:
            raise self._failure

    async def drain(self, within: float) -> None:
        """Until nothing is in flight or being written, a failure, or ``within`` seconds
        (messages backing off are not waited for: they are handed back)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while (
            (self.inflight or self.recording) and self._failure is None and loop.time() < deadline
        ):
            self._freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._freed.wait(), deadline - loop.time())
