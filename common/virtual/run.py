"""One run of a fleet on a virtual clock: the documented semantics, no Redis, no sleeping.

The same gateways as the senders (``common.gateway``: delays, failures, outage windows,
random outages, timeouts), the same throughput caps (``Pacer``, the sender's and the
account's), the same backoff (``Backoff``); only the clock and the queue differ. Every
message is in the outbox at time 0 (the producer enqueues far faster than any fleet
sends); each sender has ``concurrency`` slots; a slot freed at T takes, as of T, a
message back from its backoff (the same sender's, first come first served) or else the
outbox's next; a message's attempts follow one another on its slot, unless a backoff
frees the slot meanwhile; an attempt wants to start when its slot does, later under its
gateway's cap, and then waits its turn for the account's token (first come, first served
by the time each wanted it). Times are simulated seconds since the run's start.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from heapq import heappush

from common import gateway
from common.gateway.gateway import REJECTED, SENT, Gateway
from common.gateway.pacing import Pacer
from common.model import Backoff, SenderProfile, SimConfig

Span = tuple[float, float]  # when a sender joins and leaves (inf: it stays)

# What an event is: an attempt that waited for the account's token and may start, an
# attempt that ends, a message back from its backoff.
TOKEN, END, READY = 0, 1, 2


@dataclass(slots=True)
class Gate:
    """One sender on the virtual clock: its gateway, caps, backoff and free slots."""

    gateway: Gateway
    pacer: Pacer | None
    backoff: Backoff | None
    max_attempts: int | None
    idle: int = 0  # free slots with nothing to take
    until: float = math.inf  # when it leaves: its slots take nothing from then on
    ready: deque[tuple[int, bool]] = field(default_factory=deque)  # (attempt, undeliverable)
    sent: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one virtual run did."""

    completion: float  # when the last message was settled
    delivered: tuple[float, ...]  # each delivery's time, in order
    sent: int
    failed: int  # failed attempts
    abandoned: int
    undeliverable: int
    by_sender: tuple[int, ...]  # messages each sender delivered, in the config's order

    def time_to(self, share: float) -> float | None:
        """When ``share`` (0..1] of the run's messages had been delivered; None: never."""
        total = self.sent + self.abandoned + self.undeliverable
        if total == 0:
            return 0.0  # a run of no messages has delivered every share of them at once
        need = max(1, math.ceil(share * total - 1e-9))
        return self.delivered[need - 1] if need <= len(self.delivered) else None


def gates(config: SimConfig, rng: random.Random) -> list[Gate]:
    """A gate per sender of ``config``, each drawing from a generator of its own."""
    found = []
    for profile in config.senders or []:
        own = random.Random(rng.getrandbits(64))
        found.append(
            Gate(
                gateway.build(profile, config.shape, own),
                _pacer(profile),
                profile.retry_backoff,
                profile.max_attempts,
            )
        )
    return found


def _pacer(profile: SenderProfile) -> Pacer | None:
    return None if profile.max_rate is None else Pacer(profile.max_rate, profile.burst or 1)


class VirtualRun:
    """``simulate`` plays the whole run at once and returns its ``Outcome``."""

    def __init__(
        self, config: SimConfig, seed: int | None = None, spans: Sequence[Span] = ()
    ) -> None:
        self.rng = random.Random(seed)
        self.profiles = config.senders or []
        spans = list(spans) or [(0.0, math.inf)] * len(self.profiles)
        self.joins = [join for join, _ in spans]  # when each sender joins
        self.gates = gates(config, self.rng)
        for gate, (_, until) in zip(self.gates, spans, strict=True):
            gate.until = until
        self.orphans: deque[tuple[int, bool]] = deque()  # messages of senders that left
        cap = config.account
        self.account = None if cap is None else Pacer(cap.max_rate, cap.burst)
        self.invalid = config.invalid_fraction
        self.left = config.num_messages  # still in the outbox
        self.events: list[tuple[float, int, int, Gate, int, bool, str]] = []
        self.count = itertools.count()  # the tie-breaker of events at one time
        self.delivered: list[float] = []
        self.failed = self.abandoned = self.undeliverable = 0
        self.last = 0.0

    def simulate(self) -> Outcome:
        joining = sorted(range(len(self.profiles)), key=lambda i: self.joins[i])
        for index in joining:  # the first to join takes the first messages
            for _ in range(self.profiles[index].concurrency):
                self._free(self.gates[index], self.joins[index])
        events, pop = self.events, heapq.heappop
        end, back, begin = self._end, self._back, self._begin
        while events:
            t, _, kind, gate, attempt, invalid, done = pop(events)
            if kind == END:
                end(gate, t, attempt, invalid, done)
            elif kind == TOKEN:
                assert self.account is not None
                begin(gate, self.account.take(t), attempt, invalid)
            else:
                back(gate, t, attempt, invalid)
        return Outcome(
            self.last,
            tuple(self.delivered),
            len(self.delivered),
            self.failed,
            self.abandoned,
            self.undeliverable,
            tuple(gate.sent for gate in self.gates),
        )

    def _free(self, gate: Gate, t: float) -> None:
        """A slot of ``gate`` is free at ``t``: a message back from its backoff first,
        then one a sender that left held, else the outbox's next, else it waits. A slot
        of a sender that left takes nothing (what waits for it goes to the others)."""
        if t >= gate.until:
            while gate.ready:
                self._orphan(t, *gate.ready.popleft())
        elif gate.ready:
            attempt, invalid = gate.ready.popleft()
            self._want(gate, t, attempt, invalid)
        elif self.orphans:
            attempt, invalid = self.orphans.popleft()
            self._want(gate, t, attempt, invalid)
        elif self.left > 0:
            self.left -= 1
            self._want(gate, t, 1, self.invalid > 0 and self.rng.random() < self.invalid)
        else:
            gate.idle += 1

    def _want(self, gate: Gate, t: float, attempt: int, invalid: bool) -> None:
        """The attempt wants to start at ``t``: after its gateway's cap, and its turn for
        the account's token."""
        if gate.pacer is not None:
            t = gate.pacer.take(t)
        if self.account is None:
            self._begin(gate, t, attempt, invalid)
        else:
            heappush(self.events, (t, next(self.count), TOKEN, gate, attempt, invalid, ""))

    def _begin(self, gate: Gate, t: float, attempt: int, invalid: bool) -> None:
        done = gate.gateway.attempt(t, invalid)
        event = (t + done.duration, next(self.count), END, gate, attempt, invalid, done.kind)
        heappush(self.events, event)

    def _end(self, gate: Gate, t: float, attempt: int, invalid: bool, kind: str) -> None:
        if kind == SENT:
            gate.sent += 1
            self.delivered.append(t)
            self.last = t  # events come in time order
            self._free(gate, t)
            return
        self.failed += 1
        if kind == REJECTED:
            self.undeliverable += 1
            self.last = t
            self._free(gate, t)
        elif gate.max_attempts and attempt >= gate.max_attempts:
            self.abandoned += 1
            self.last = t
            self._free(gate, t)
        elif gate.backoff is not None:
            ready = t + gate.backoff.delay(attempt)
            heappush(self.events, (ready, next(self.count), READY, gate, attempt + 1, invalid, ""))
            self._free(gate, t)
        else:
            self._want(gate, t, attempt + 1, invalid)

    def _back(self, gate: Gate, t: float, attempt: int, invalid: bool) -> None:
        """A message's backoff is over: it takes a waiting slot, or the next one freed
        (another sender's, when its own left)."""
        if t >= gate.until:
            self._orphan(t, attempt, invalid)
            return
        gate.ready.append((attempt, invalid))
        if gate.idle:
            gate.idle -= 1
            self._free(gate, t)

    def _orphan(self, t: float, attempt: int, invalid: bool) -> None:
        """A message whose sender left: a waiting slot of another takes it over, or the
        next one freed."""
        waiting = next((g for g in self.gates if g.idle and t < g.until), None)
        if waiting is None:
            self.orphans.append((attempt, invalid))
            return
        waiting.idle -= 1
        self._want(waiting, t, attempt, invalid)


def simulate(config: SimConfig, seed: int | None = None, spans: Sequence[Span] = ()) -> Outcome:
    """One virtual run of ``config`` (its senders, caps, outages and messages); ``spans``:
    when each sender joins and leaves (simulated seconds; default: from the start on)."""
    return VirtualRun(config, seed, spans).simulate()
