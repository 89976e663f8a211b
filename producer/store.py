"""The producer's Redis side: create or resume a run, enqueue a batch atomically."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from common import keys as k
from common import scripts
from common.errors import UsageProblem, run_gone
from common.heartbeat import Heartbeat, working
from common.keys import RunKeys
from common.run import RunWrites

ENQUEUE = scripts.load("producer", "enqueue.lua")


class CountMismatch(UsageProblem):
    """The run exists with a different total."""


class RunWriter:
    """Writes one run's meta and outbox."""

    def __init__(self, client: Redis, keys: RunKeys) -> None:
        self.client = client
        self.keys = keys
        self._enqueue = client.register_script(ENQUEUE)
        self.run_id = ""  # the run's incarnation, once open_run has created or joined it

    async def open_run(self, total: int, config: dict[str, Any]) -> int:
        """Create the run's meta, or join the existing one; return how many are enqueued."""
        initial: dict[str, str | int | float] = {
            k.META_ID: uuid.uuid4().hex,
            k.META_TOTAL: total,
            k.META_PRODUCED: 0,
            k.META_DONE: 0,
            k.META_CREATED: time.time(),
            k.META_DELIVERED: 0,
            k.META_ABANDONED: 0,
            k.META_DEAD: 0,
            k.META_CONFIG: json.dumps(config, sort_keys=True),
        }
        async with self.client.pipeline(transaction=True) as pipe:
            for field, value in initial.items():
                pipe.hsetnx(self.keys.meta, field, value)
            pipe.hmget(self.keys.meta, [k.META_ID, k.META_TOTAL, k.META_PRODUCED])
            replies = await pipe.execute()
        self.run_id = str(replies[-1][0])
        existing_total, produced = (int(v) for v in replies[-1][1:])
        if existing_total != total:
            raise CountMismatch(
                f"run {self.keys.run!r} already exists with {existing_total} messages, not "
                f"{total}: use a new --run NAME or `sms-sim reset --run {self.keys.run}`"
            )
        return produced

    async def enqueue(self, start: int, created: float, payload: str) -> int:
        """Append one batch (``producer.content.batch_payload``) at ``start``; return the
        new produced count."""
        args: list[str | int] = [self.run_id, start, repr(created), payload]
        try:
            result = await self._enqueue(keys=[self.keys.outbox, self.keys.meta], args=args)
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
        """Messages enqueued and not yet delivered or abandoned."""
        values = await self.client.hmget(
            self.keys.meta, [k.META_PRODUCED, k.META_DELIVERED, k.META_ABANDONED]
        )
        produced, delivered, abandoned = (int(v or 0) for v in values)
        return produced - delivered - abandoned

    async def working_senders(self) -> int:
        raw: dict[str, str] = await self.client.hgetall(self.keys.senders)  # type: ignore[assignment]
        beats = {name: Heartbeat.parse(name, value) for name, value in raw.items()}
        return working(beats, time.time())

    async def mark_done(self) -> None:
        """Every message is enqueued (only while the run is the one this producer opened)."""
        await RunWrites(self.client, self.keys, self.run_id).hset(self.keys.meta, k.META_DONE, "1")
