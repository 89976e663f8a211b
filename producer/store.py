"""The producer's Redis side: create or resume a run, enqueue a batch atomically."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from common import keys as k
from common import scripts
from common.errors import UsageProblem, run_gone
from common.heartbeat import Heartbeat, working
from common.keys import RunKeys
from common.model import AccountCap
from common.run import RunWrites

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

    def fields(self) -> dict[str, str | int | float]:
        fields: dict[str, str | int | float] = {
            k.META_TOTAL: self.total,
            k.META_TIME_SCALE: repr(self.time_scale),
            k.META_INVALID_FRACTION: repr(self.invalid_fraction),
        }
        if self.account is not None:
            fields[k.META_ACCOUNT_RATE] = repr(self.account.max_rate)
            fields[k.META_ACCOUNT_BURST] = self.account.burst
        return fields


class RunWriter:
    """Writes one run's meta and outbox."""

    def __init__(self, client: Redis, keys: RunKeys) -> None:
        self.client = client
        self.keys = keys
        self._enqueue = client.register_script(ENQUEUE)
        self.run_id = ""  # the run's incarnation, once open_run has created or joined it

    async def open_run(self, params: RunParams, config: dict[str, Any]) -> int:
        """Create the run's meta with its parameters, or join the existing run (with the
        same parameters); return how many messages are enqueued."""
        initial: dict[str, str | int | float] = {
            k.META_ID: uuid.uuid4().hex,
            k.META_PRODUCED: 0,
            k.META_DONE: 0,
            k.META_CREATED: time.time(),
            k.META_DELIVERED: 0,
            k.META_ABANDONED: 0,
            k.META_UNDELIVERABLE: 0,
            k.META_DEAD: 0,
            k.META_CONFIG: json.dumps(config, sort_keys=True),
            **params.fields(),
        }
        fixed = [k.META_ID, k.META_PRODUCED, *params.fields()]
        async with self.client.pipeline(transaction=True) as pipe:
            for field, value in initial.items():
                pipe.hsetnx(self.keys.meta, field, value)
            pipe.hmget(self.keys.meta, fixed)
            replies = await pipe.execute()
        run_id, produced, *existing = replies[-1]
        self.run_id = str(run_id)
        self._refuse_other(params, dict(zip(params.fields(), existing, strict=True)))
        return int(produced)

    def _refuse_other(self, params: RunParams, existing: dict[str, Any]) -> None:
        """The run exists with other parameters: say which (exit 2)."""
        for field, wanted in params.fields().items():
            if existing[field] != str(wanted):
                raise CountMismatch(
                    f"run {self.keys.run!r} already exists with {field} {existing[field]}, not "
                    f"{wanted}: use a new --run NAME or `sms-sim reset --run {self.keys.run}`"
                )

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
