"""When each attempt runs: the sender's slots on their own schedules, in simulated time.

Each slot keeps its own schedule (see ``sender.slots``): a message's attempts follow one
another back to back on their intended times, and a slot that freed at T takes its next
message as of T (or as of the message's enqueue time, if later). Every simulated delay
(an attempt's drawn time, an outage's timeout, a retry's backoff) is divided by the run's
time scale on the event loop, and recorded in simulated seconds. A throughput cap
(``max_rate``) spaces the attempts' starts.

An attempt's delay is a timer on the event loop (no task per message); with no delay to
wait and nothing to space or schedule, a whole read is attempted at once.

An attempt's lateness (``late``) is how long after its due end its timer fired: how far
the process fell behind its own schedule. A message waiting for a slot, a token or its
backoff is not late: a retry takes a free slot from its own timer when its backoff ends
(or when a slot of its sender frees), never waiting for the station's next read.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass

from common import clock
from common.codec import Message
from common.gateway.gateway import TIMED_OUT, Attempt, Gateway, undeliverable
from common.gateway.pacing import Pacer, Unpaced
from common.model import Backoff
from common.run import RunState
from sender.account import Account
from sender.attempts import Attempts, parse_entry
from sender.inbox import Entry
from sender.partitions import split
from sender.recorder import FAIL, OK, Outcome, Recorder
from sender.slots import Slots

logger = logging.getLogger(__name__)

# A slot starts a message at most this far back (when it freed, or when the message was
# enqueued); further back means the process cannot keep up with the fleet it simulates,
# and the lateness of its attempts says so.
MAX_BACKDATE = 1.0


@dataclass
class Clock:
    """The run's simulated time: 0 when the run was created, ``scale`` simulated seconds
    per real second."""

    created: float  # epoch seconds
    scale: float
    epoch: float  # epoch seconds at event-loop time 0

    def sim(self, loop_time: float) -> float:
        return (loop_time + self.epoch - self.created) * self.scale

    def real(self, sim_seconds: float) -> float:
        """Real (event-loop) seconds for ``sim_seconds`` of simulated time."""
        return sim_seconds / self.scale

    def resync(self, loop_time: float) -> None:
        """The wall clock may have been set: take its offset again."""
        self.epoch = clock.now() - loop_time


@dataclass(slots=True)
class Lateness:
    """How late attempts end against their schedule (real seconds), lately."""

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


class Schedule:
    def __init__(  # noqa: PLR0917
        self,
        gateway: Gateway,
        attempts: Attempts,
        slots: Slots,
        recorders: list[Recorder],
        clock: Clock,
        run: RunState,
        pacer: Pacer | Unpaced | None = None,
        backoff: Backoff | None = None,
        account: Account | None = None,
    ) -> None:
        self.gateway = gateway
        self.attempts = attempts
        self.slots = slots
        self.recorders = recorders  # one per partition of the run
        self.clock = clock
        self.run = run
        self.pacer = pacer or Unpaced()
        self.backoff = backoff
        self.account = account
        self.sent = 0
        self.draining = False  # the station stops: no message starts from a backoff
        self.timing_out: set[str] = set()  # in flight: attempts begun while it was down
        self.lateness = Lateness()
        self._loop = asyncio.get_running_loop()
        self._at_once = (
            gateway.mean_time <= 0
            and isinstance(self.pacer, Unpaced)
            and backoff is None
            and account is None
            and (gateway.outages is None or not gateway.outages.any)
        )

    def start(self, entries: list[Entry]) -> None:
        """Take a slot per message: attempt it now (no delay) or when its timer fires."""
        settle_now: list[Outcome] = []
        now, wall = self._loop.time(), clock.now()
        for entry_id, fields in entries:
            if self.slots.holds(entry_id):
                continue
            msg = parse_entry(entry_id, fields, self.run, wall)
            if isinstance(msg, Outcome):  # a dead letter: settled at once, no slot held
                msg.sender = self.attempts.sender
                settle_now.append(msg)
            elif self._at_once:  # no delay: every attempt at once
                settle_now += self.attempts.all_now(entry_id, msg, self._invalid(msg))
            elif not self.slots.vacant:  # a retry took the slot while the read was out
                self.slots.ready.append((entry_id, (msg, 1, msg.created - self.clock.epoch)))
            else:
                since = self.slots.take()
                start = min(now, max(since, msg.created - self.clock.epoch, now - MAX_BACKDATE))
                self._schedule(entry_id, msg, 1, start)
        if settle_now:
            self._settle(settle_now)

    def resume(self) -> None:
        """Messages back from a retry backoff take the free slots first. Called whenever
        one may start: when its backoff ends, when a slot of this sender frees, and by the
        station's loop; not only by the loop, which may be waiting out a blocking read
        meanwhile (an empty outbox)."""
        if self.draining:
            return  # the station stops: what waits is handed back
        now = self._loop.time()
        while self.slots.ready and self.slots.free > 0:
            entry_id, (msg, attempt, ready_at) = self.slots.ready.popleft()
            since = self.slots.take()
            start = min(now, max(since, ready_at, now - MAX_BACKDATE))
            self._schedule(entry_id, msg, attempt, start)

    @property
    def held_by_outage(self) -> bool:
        """Every message in flight waits out an attempt begun while the gateway was down
        (it fails after its timeout): the sender is stuck in its outage, even once the
        gateway is up again."""
        return bool(self.timing_out) and len(self.timing_out) >= len(self.slots.inflight)

    def _invalid(self, msg: Message) -> bool:
        return undeliverable(msg.to, self.run.invalid_fraction)

    def _schedule(self, entry_id: str, msg: Message, attempt: int, start: float) -> None:
        """The attempt runs from ``start`` (loop time), or later under a throughput cap
        (the gateway's own, then the fleet's account)."""
        start = self.pacer.take(start)
        if self.account is None:
            self._begin(entry_id, msg, attempt, start)
            return
        self.slots.attempt(entry_id, None)  # holds its slot while its token comes
        self.account.take(start, functools.partial(self._begin, entry_id, msg, attempt))

    def _begin(self, entry_id: str, msg: Message, attempt: int, start: float) -> None:
        if self.slots.failed:
            return
        done = self.gateway.attempt(self.clock.sim(start), self._invalid(msg))
        if done.kind == TIMED_OUT:
            self.timing_out.add(entry_id)
        end = start + self.clock.real(done.duration)
        timer = self._loop.call_at(end, self._attempt_due, entry_id, msg, attempt, end, done)
        self.slots.attempt(entry_id, timer)

    def _attempt_due(
        self, entry_id: str, msg: Message, attempt: int, end: float, done: Attempt
    ) -> None:
        """A timer fired: the attempt is over; retry on failure, else record. The next
        attempt, or the slot's next message, starts when this one was due to end."""
        try:
            self.timing_out.discard(entry_id)
            late = self._loop.time() - end
            self.lateness.add(late)
            outcomes = self.attempts.outcomes(entry_id, msg, attempt, done, late * self.clock.scale)
            if outcomes[-1].kind != FAIL:
                self._settle(outcomes, end)
                self.resume()  # its slot is free: a message back from a backoff first
                return
            self._recorder(entry_id).add(outcomes[0])  # nobody waits for a failure
            wait = self.backoff.delay(attempt) if self.backoff else 0.0
            if wait > 0:
                self._back_off(entry_id, msg, attempt + 1, end, end + self.clock.real(wait))
                self.resume()
            else:
                self._schedule(entry_id, msg, attempt + 1, end)
        except Exception as exc:
            self.slots.fail(exc)

    def _back_off(
        self, entry_id: str, msg: Message, attempt: int, free_at: float, ready_at: float
    ) -> None:
        """Free the slot while the message waits out its backoff, then queue it."""
        resume = (msg, attempt, ready_at)
        wake = self._loop.call_at(ready_at, self._wake, entry_id, resume)
        self.slots.release(entry_id, free_at, wake)

    def _wake(self, entry_id: str, resume: tuple[Message, int, float]) -> None:
        """A backoff is over: the message takes a free slot now, or the next to free."""
        try:
            self.slots.wakes(entry_id, resume)
            self.resume()
        except Exception as exc:
            self.slots.fail(exc)

    def _recorder(self, key: str) -> Recorder:
        return self.recorders[split(key)[0]] if len(self.recorders) > 1 else self.recorders[0]

    def _settle(self, outcomes: list[Outcome], free_at: float | None = None) -> None:
        """The messages' attempts are over: free their slots; write the outcomes (each
        partition's by its own recorder)."""
        if free_at is not None:
            self.slots.settled([outcomes[0].entry_id], [free_at])
        else:  # settled on reading: their slots are free again already
            self.slots.settled([o.entry_id for o in outcomes], [])
        groups: dict[int, list[Outcome]] = {}
        for outcome in outcomes:
            groups.setdefault(split(outcome.entry_id)[0], []).append(outcome)
        for group in groups.values():
            self._recorder(group[0].entry_id).then(group, functools.partial(self._written, group))

    def _written(self, outcomes: list[Outcome], written: list[bool] | BaseException) -> None:
        self.slots.written([o.entry_id for o in outcomes])
        if isinstance(written, BaseException):
            self.slots.fail(written)
        else:
            self.sent += sum(
                1 for o, new in zip(outcomes, written, strict=True) if new and o.kind == OK
            )
