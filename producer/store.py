"""The producer's Redis side: create or resume a run, enqueue a batch atomically."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from common import clock, scripts
from common import keys as k
from common.errors import UsageProblem, run_gone
from common.heartbeat import Heartbeat, working
from common.keys import RunKeys
from common.model import AccountCap
from common.run import RunWrites, read_state

ENQUEUE = scripts.load("producer", "enqueue.lua")


class CountMismatch(UsageProblem):
    """The run exists with a different total (or other parameters)."""


@dataclass(frozen=True)
class RunParams:
    """What a run is, fixed when it is created; every role reads it from the meta."""

    total: int
    time_scale: float = 1.0
    invalid_fraction: float = 0.0
    account: AccountCap | None = None
    partitions: int = 1

    def fields(self) -> dict[str, str | int | float]:
        fields: dict[str, str | int | float] = {
            k.META_TOTAL: self.total,
            k.META_PARTITIONS: self.partitions,
            k.META_TIME_SCALE: repr(self.time_scale),
            k.META_INVALID_FRACTION: repr(self.invalid_fraction),
        }
        if self.account is not None:
            fields[k.META_ACCOUNT_RATE] = repr(self.account.max_rate)
            fields[k.META_ACCOUNT_BURST] = self.account.burst
        return fields


class RunWriter:
    """Writes one run's meta and outbox (each partition's, for a run of several)."""

    def __init__(self, client: Redis, keys: RunKeys) -> None:
        self.client = client
        self.keys = keys
        self._enqueue = client.register_script(ENQUEUE)
        self.run_id = ""  # the run's incarnation, once open_run has created or joined it
        self.partitions = 1
        self.created_run = False  # open_run created the run (rather than joined it)

    async def open_run(self, params: RunParams, config: dict[str, Any]) -> int:
        """Create the run's meta with its parameters (and each partition's counters), or
        join the existing run (with the same parameters); return how many messages are
        enqueued: the first seq not enqueued yet."""
        initial: dict[str, str | int | float] = {
            k.META_ID: uuid.uuid4().hex,
            k.META_DONE: 0,
            k.META_CREATED: clock.now(),
            k.META_CONFIG: json.dumps(config, sort_keys=True),
            **_COUNTERS,
            **params.fields(),
        }
        # The total last: a run is there for the other roles once its meta has a total
        # (common.run.read_state), and by then every partition's meta is ready.
        total = initial.pop(k.META_TOTAL)
        fixed = [k.META_ID, *params.fields()]
        async with self.client.pipeline(transaction=True) as pipe:
            for field, value in initial.items():
                pipe.hsetnx(self.keys.run_meta, field, value)
            pipe.hmget(self.keys.run_meta, fixed)
            replies = await pipe.execute()
        run_id, *existing = replies[-1]
        self.run_id = str(run_id)
        self.created_run = self.run_id == initial[k.META_ID]
        existing[0] = existing[0] or str(total)  # a new run: its total comes below
        self._refuse_other(params, dict(zip(params.fields(), existing, strict=True)))
        self.partitions = params.partitions
        if params.partitions > 1:
            await self._open_partitions(params.total)
        await self.client.hsetnx(self.keys.run_meta, k.META_TOTAL, total)
        return await self.produced()

    async def _open_partitions(self, total: int) -> None:
        """Each partition's meta: the run's id, its share of the messages, its counters."""
        for part in self.keys.parts(self.partitions):
            share = _share(total, part.partition, self.partitions)
            fields: dict[str, str | int] = {k.META_ID: self.run_id, k.META_TOTAL: share}
            fields.update(_COUNTERS)
            async with self.client.pipeline(transaction=True) as pipe:
                for field, value in fields.items():
                    pipe.hsetnx(part.meta, field, value)
                await pipe.execute()

    async def start_clock(self) -> float | None:
        """The run's time 0 is now (``sms-sim run``, once its fleet has joined): its
        ``created`` is reset, for a run this writer created and has not filled yet. The
        new ``created``; None for a run it joined (its time 0 stays)."""
        if not self.created_run or await self.produced():
            return None
        now = clock.now()
        await RunWrites(self.client, self.keys, self.run_id).hset(
            self.keys.run_meta, k.META_CREATED, repr(now)
        )
        return now

    async def produced(self) -> int:
        """The first seq not enqueued yet (in a run of several partitions, the first that
        one of them lacks)."""
        if self.partitions == 1:
            return int(await self.client.hget(self.keys.meta, k.META_PRODUCED) or 0)
        firsts = []
        for part in self.keys.parts(self.partitions):
            local = int(await self.client.hget(part.meta, k.META_PRODUCED) or 0)
            firsts.append(local * self.partitions + part.partition)
        return min(firsts)

    def _refuse_other(self, params: RunParams, existing: dict[str, Any]) -> None:
        """The run exists with other parameters: say which (exit 2)."""
        for field, wanted in params.fields().items():
            if existing[field] != str(wanted):
                raise CountMismatch(
                    f"run {self.keys.run!r} already exists with {field} {existing[field]}, not "
                    f"{wanted}: use a new --run NAME or `sms-sim reset --run {self.keys.run}`"
                )

    async def enqueue(self, start: int, created: float, payload: str) -> int:
        """Append one batch (``producer.content.batch_payload``) at seq ``start``; return
        the first seq not enqueued after it (in a run of several partitions, each takes
        its messages, seq % partitions, in one atomic step of its own)."""
        if self.partitions == 1:
            return await self._enqueue_part(self.keys, start, created, payload)
        lines = payload.split("\n")
        count = len(lines) // 2
        for part in self.keys.parts(self.partitions):
            p, n = part.partition, self.partitions
            first = (p - start) % n  # the batch's first message of this partition
            mine = [
                line for i in range(first, count, n) for line in (lines[2 * i], lines[2 * i + 1])
            ]
            if mine:
                local = _share(start, p, n)  # the partition's messages before the batch
                await self._enqueue_part(part, local, created, "\n".join(mine))
        return await self.produced()

    async def _enqueue_part(self, part: RunKeys, start: int, created: float, lines: str) -> int:
        """One partition's part of a batch, from its local index ``start``; the partition's
        new produced count (STALE: it had it already, or another producer got ahead)."""
        args: list[str | int] = [
            self.run_id,
            start,
            repr(created),
            lines,
            part.partition,
            part.partitions,
        ]
        try:
            result = await self._enqueue(keys=[part.outbox, part.meta], args=args)
        except ResponseError as exc:
            return self._recover(exc)
        return int(result)

    def _recover(self, exc: ResponseError) -> int:
        """STALE: the batch was written already (a retry after a lost reply) or another
        producer is filling the run; either way continue from the count it reports."""
        text = str(exc)
        if text.startswith("STALE produced="):
            return int(text.removeprefix("STALE produced="))
        if text.startswith("NORUN"):
            raise run_gone(self.keys.run) from None
        raise exc

    async def backlog(self) -> int:
        """Messages enqueued and not settled yet (delivered, abandoned, undeliverable)."""
        state = await read_state(self.client, self.keys)
        if state is None:
            raise run_gone(self.keys.run)
        return state.produced - state.finished

    async def working_senders(self) -> int:
        raw: dict[str, str] = await self.client.hgetall(self.keys.senders)  # type: ignore[assignment]
        beats = {name: Heartbeat.parse(name, value) for name, value in raw.items()}
        return working(beats, clock.now())

    async def mark_done(self) -> None:
        """Every message is enqueued (only while the run is the one this producer opened)."""
        writes = RunWrites(self.client, self.keys, self.run_id)
        await writes.hset(self.keys.run_meta, k.META_DONE, "1")


_COUNTERS = {
    k.META_PRODUCED: 0,
    k.META_DELIVERED: 0,
    k.META_ABANDONED: 0,
    k.META_UNDELIVERABLE: 0,
    k.META_DEAD: 0,
}


def _share(count: int, partition: int, partitions: int) -> int:
    """How many of the seqs below ``count`` belong to ``partition`` (seq % partitions)."""
    return max(0, (count - partition + partitions - 1) // partitions)
