"""Recording attempts: batched into one Lua call per round trip, atomic per message.

A success writes its result entry, sets the message's delivered bit, counts it in the
run's meta, acks it and deletes it from the outbox, all in one step. A success for a
message already delivered is acked and written as a suppressed duplicate (``dup 1``).
Each batch carries an id kept per sender in the run's meta, so a batch retried after a
lost reply is not written twice.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from common import keys as k
from common.keys import RunKeys
from common.run import RunMissing

logger = logging.getLogger(__name__)

FAIL, OK, ABANDON, MALFORMED = "fail", "ok", "abandon", "malformed"
FIELDS_PER_OUTCOME = 7

RECORD = """
if redis.call('EXISTS', KEYS[4]) == 0 then return redis.error_reply('NORUN run meta is gone') end
local outbox, results, delivered, meta, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local group, sender, batch = ARGV[1], ARGV[2], ARGV[3]
local tag = 'batch:' .. sender
if redis.call('HGET', meta, tag) == batch then return 'REPLAY' end
local out = {}
for i = 4, #ARGV, 7 do
  local kind, id, seq, attempt = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local duration, ts, extra = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  local flag = 1
  if kind == 'fail' then
    redis.call('XADD', results, '*', 'seq', seq, 'sender', sender, 'attempt', attempt,
               'ok', '0', 'duration', duration, 'ts', ts)
  elseif kind == 'ok' then
    if redis.call('SETBIT', delivered, seq, 1) == 1 then
      flag = 0
      redis.call('XADD', results, '*', 'seq', seq, 'sender', sender, 'attempt', attempt,
                 'ok', '1', 'duration', duration, 'ts', ts, 'dup', '1')
    else
      redis.call('HINCRBY', meta, 'delivered', 1)
      redis.call('XADD', results, '*', 'seq', seq, 'sender', sender, 'attempt', attempt,
                 'ok', '1', 'duration', duration, 'ts', ts, 'latency', extra)
    end
  else
    if kind == 'abandon' and redis.call('GETBIT', delivered, seq) == 0 then
      redis.call('HINCRBY', meta, 'abandoned', 1)
    elseif kind == 'malformed' then
      redis.call('HINCRBY', meta, 'dead_letters', 1)
    else
      flag = 0
    end
    redis.call('XADD', dead, '*', 'id', id, 'seq', seq, 'sender', sender, 'reason', extra)
  end
  if kind ~= 'fail' then
    redis.call('XACK', outbox, group, id)
    redis.call('XDEL', outbox, id)
  end
  out[#out + 1] = flag
end
redis.call('HSET', meta, tag, batch)
return out
"""


@dataclass(slots=True)
class Outcome:
    """One attempt's outcome, or a message given up (abandoned) or rejected (malformed).

    ``extra`` is the latency for a success and the reason for a dead letter.
    """

    kind: str
    entry_id: str
    seq: str
    attempt: int = 0
    duration: float = 0.0
    ts: float = 0.0
    extra: str = ""

    def args(self) -> tuple[str, ...]:
        return (
            self.kind,
            self.entry_id,
            self.seq,
            str(self.attempt),
            f"{self.duration:.6f}",
            f"{self.ts:.6f}",
            self.extra,
        )


class Recorder:
    """Collects outcomes and writes them in batches; ``submit`` waits for the write."""

    def __init__(self, client: Redis, keys: RunKeys, sender: str, max_batch: int = 2000) -> None:
        self.keys = keys
        self.sender = sender
        self.max_batch = max_batch
        self._script = client.register_script(RECORD)
        self._batches = itertools.count(1)
        self._nonce = uuid.uuid4().hex[:8]
        self._pending: list[tuple[Outcome, asyncio.Future[bool] | None]] = []
        self._wake = asyncio.Event()

    def add(self, outcome: Outcome) -> None:
        """Queue an outcome nobody waits for (a failed attempt)."""
        self._pending.append((outcome, None))
        self._wake.set()

    async def submit(self, outcome: Outcome) -> bool:
        """Queue an outcome and wait until it is written; False for a suppressed duplicate."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((outcome, future))
        self._wake.set()
        return await future

    async def run(self) -> None:
        """Write queued outcomes until cancelled; then write what is left."""
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                await self.flush()
        finally:
            if self._pending:
                await asyncio.shield(self.flush())

    async def flush(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: len(batch)]
            try:
                flags = await self._write([outcome for outcome, _ in batch])
            except Exception as exc:
                _settle_error(batch, _translate(exc, self.keys))
                raise
            for (_, future), flag in zip(batch, flags, strict=True):
                if future is not None and not future.done():
                    future.set_result(bool(flag))

    async def _write(self, outcomes: list[Outcome]) -> list[int]:
        batch_id = f"{self._nonce}-{next(self._batches)}"
        args: list[str] = [k.GROUP, self.sender, batch_id]
        for outcome in outcomes:
            args.extend(outcome.args())
        keys = [
            self.keys.outbox,
            self.keys.results,
            self.keys.delivered,
            self.keys.meta,
            self.keys.dead,
        ]
        reply = await self._script(keys=keys, args=args)
        if reply == "REPLAY":  # written before the connection dropped
            return [1] * len(outcomes)
        return list(reply)


def _translate(exc: Exception, keys: RunKeys) -> Exception:
    if isinstance(exc, ResponseError) and "NORUN" in str(exc):
        return RunMissing(f"run {keys.run!r} is gone from Redis (restarted without persistence?)")
    return exc


def _settle_error(batch: list[tuple[Outcome, asyncio.Future[bool] | None]], exc: Exception) -> None:
    for _, future in batch:
        if future is not None and not future.done():
            future.set_exception(exc)
