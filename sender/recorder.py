"""Recording attempts: batched into one Lua call per round trip, atomic per message.

A success writes its result entry, sets the message's delivered bit, counts it in the
run's meta, acks it and trims it from the outbox, all in one step. A success for a
message already delivered is acked and written as a suppressed duplicate (``dup 1``).
Each batch carries an id kept per sender in the run's meta, so a batch retried after a
lost reply is not written twice. The delivered bitmap drops the bits of the run's settled
prefix as it grows (their count is the meta's ``delivered_base``), so it stays as small
as the backlog. A batch travels as one string argument (one line per outcome,
tab-separated fields): packing thousands of separate arguments costs more.
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
LINGER = 0.005  # seconds an outcome may wait for others to share its write
COMPACT_AT = 1 << 16  # settled bits (8 KiB) that leave the delivered bitmap at once

RECORD = """
local outbox, results, delivered, meta, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local group, sender, batch, compact_at = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[5])
if redis.call('EXISTS', meta) == 0 then return redis.error_reply('NORUN run meta is gone') end
local tag = 'batch:' .. sender
local state = redis.call('HMGET', meta, 'produced', tag, 'delivered_base')
if state[2] == batch then return 'REPLAY' end

-- Bit (seq - base) of the delivered bitmap is message seq's. Every seq below base is
-- settled (delivered, or given up), so a success for one of them is a duplicate.
local base = tonumber(state[3]) or 0
local function set_delivered(seq)
  local offset = tonumber(seq) - base
  if offset < 0 then return 1 end
  return redis.call('SETBIT', delivered, offset, 1)
end
local function is_delivered(seq)
  local offset = tonumber(seq) - base
  if offset < 0 then return 1 end
  return redis.call('GETBIT', delivered, offset)
end

-- The outbox holds messages in seq order (only the producer writes it) and is trimmed
-- only below what is settled, so every seq below its first entry's is settled: once
-- compact_at of those bits pile up, they leave the bitmap, which stays as small as the
-- backlog however many messages the run has.
local function compact()
  local first = redis.call('XRANGE', outbox, '-', '+', 'COUNT', 1)[1]
  local low = tonumber(state[1]) or 0
  if first then
    local fields = first[2]
    local seq = fields[1] == 'seq' and tonumber(fields[2])
    if not seq or seq > low then return end  -- not the producer's: wait until it is gone
    low = seq
  end
  local shift = low - base
  if shift < compact_at then return end
  shift = shift - shift % 8
  redis.call('SET', delivered, redis.call('GETRANGE', delivered, shift / 8, -1))
  redis.call('HINCRBY', meta, 'delivered_base', shift)
end

-- Acked entries leave the outbox by trimming below the oldest entry still pending, or
-- below the first unread one when nothing is pending: whole stream nodes go at once,
-- which costs far less than deleting entry by entry.
local function trim_floor(stream, name)
  local floor = redis.call('XPENDING', stream, name)[2]
  if floor then return floor end
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local fields = {}
    for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
    if fields['name'] == name then
      local ms, seq = string.match(fields['last-delivered-id'], '^(%d+)-(%d+)$')
      return ms .. '-' .. string.format('%d', tonumber(seq) + 1)
    end
  end
  return '0-0'
end

local flags, settled = {}, {}
local counts = {delivered = 0, abandoned = 0, dead_letters = 0}
-- One outcome per line: kind, id, seq, attempt, duration, ts, extra (tab-separated).
local line = '(%a+)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\n]*)'
for kind, id, seq, attempt, duration, ts, extra in string.gmatch(ARGV[4], line) do
  local flag = '1'
  if kind == 'fail' then
    redis.call('XADD', results, '*', 'seq', seq, 'sender', sender, 'attempt', attempt,
               'ok', '0', 'duration', duration, 'ts', ts)
  elseif kind == 'ok' then
    if set_delivered(seq) == 1 then
      flag = '0'
      redis.call('XADD', results, '*', 'seq', seq, 'sender', sender, 'attempt', attempt,
                 'ok', '1', 'duration', duration, 'ts', ts, 'dup', '1')
    else
      counts.delivered = counts.delivered + 1
      redis.call('XADD', results, '*', 'seq', seq, 'sender', sender, 'attempt', attempt,
                 'ok', '1', 'duration', duration, 'ts', ts, 'latency', extra)
    end
  else
    if kind == 'malformed' then
      counts.dead_letters = counts.dead_letters + 1
    elseif is_delivered(seq) == 0 then
      counts.abandoned = counts.abandoned + 1
    else
      flag = '0'
    end
    redis.call('XADD', dead, '*', 'id', id, 'seq', seq, 'sender', sender, 'reason', extra)
  end
  if kind ~= 'fail' then settled[#settled + 1] = id end
  flags[#flags + 1] = flag
end
if #settled > 0 then
  redis.call('XACK', outbox, group, unpack(settled))
  redis.call('XTRIM', outbox, 'MINID', trim_floor(outbox, group))
  compact()
end
for field, n in pairs(counts) do
  if n > 0 then redis.call('HINCRBY', meta, field, n) end
end
redis.call('HSET', meta, tag, batch)
return table.concat(flags)
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

    def line(self) -> str:
        """The outcome as the script reads it (``seq`` and ``extra`` hold no tab or newline:
        see ``sender.attempts.parse_entry``)."""
        seq, extra = self.seq, self.extra
        return (
            f"{self.kind}\t{self.entry_id}\t{seq}\t{self.attempt}\t{self.duration:.6f}\t"
            f"{self.ts:.6f}\t{extra}"
        )


Claim = tuple["asyncio.Future[list[bool]]", int, int]  # (future, first index, count)


class Recorder:
    """Collects outcomes and writes them in batches; ``submit`` waits for the write."""

    def __init__(
        self,
        client: Redis,
        keys: RunKeys,
        sender: str,
        max_batch: int = 2000,
        compact_at: int | None = None,
    ) -> None:
        self.keys = keys
        self.sender = sender
        self.max_batch = max_batch
        self.compact_at = COMPACT_AT if compact_at is None else compact_at
        self._script = client.register_script(RECORD)
        self._pending: list[Outcome] = []
        self._claims: list[Claim] = []
        self._wake = asyncio.Event()
        self._batches = itertools.count(1)
        self._nonce = uuid.uuid4().hex[:8]

    def add(self, outcome: Outcome) -> None:
        """Queue an outcome nobody waits for (a failed attempt)."""
        self._pending.append(outcome)
        self._wake.set()

    async def submit(self, outcomes: list[Outcome]) -> list[bool]:
        """Queue outcomes and wait until they are written; per outcome, False marks a
        suppressed duplicate (or an abandonment of a message delivered meanwhile)."""
        return await self.submit_nowait(outcomes)

    def submit_nowait(self, outcomes: list[Outcome]) -> asyncio.Future[list[bool]]:
        """Queue outcomes; the future resolves (as ``submit``) once they are written."""
        future: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()
        self._claims.append((future, len(self._pending), len(outcomes)))
        self._pending.extend(outcomes)
        self._wake.set()
        return future

    async def run(self) -> None:
        """Write queued outcomes until cancelled; then write what is left."""
        try:
            while True:
                await self._wake.wait()
                if len(self._pending) < self.max_batch:
                    await asyncio.sleep(LINGER)  # let a batch build up: fewer round trips
                self._wake.clear()
                await self.flush()
        finally:
            if self._pending:
                await asyncio.shield(self._last_flush())

    async def _last_flush(self) -> None:
        """Write what is left on the way out. A failure reaches those waiting for these
        outcomes; nobody waits for this task itself (it may outlive a second cancel)."""
        try:
            await self.flush()
        except Exception as exc:  # the waiters have it (see flush)
            logger.debug("last recording batch not written: %s", exc)

    async def flush(self) -> None:
        while self._pending:
            outcomes, claims = self._pending, self._claims
            self._pending, self._claims = [], []
            flags: list[bool] = []
            try:
                for start in range(0, len(outcomes), self.max_batch):
                    flags += await self._write(outcomes[start : start + self.max_batch])
            except Exception as exc:
                error = _translate(exc, self.keys)
                _settle(claims, error)
                raise error from None
            for future, first, count in claims:
                if not future.done():
                    future.set_result(flags[first : first + count])

    async def _write(self, outcomes: list[Outcome]) -> list[bool]:
        batch_id = f"{self._nonce}-{next(self._batches)}"
        payload = "\n".join([outcome.line() for outcome in outcomes])
        keys = [
            self.keys.outbox,
            self.keys.results,
            self.keys.delivered,
            self.keys.meta,
            self.keys.dead,
        ]
        args: list[str | int] = [k.GROUP, self.sender, batch_id, payload, self.compact_at]
        reply = await self._script(keys=keys, args=args)
        if reply == "REPLAY":  # written before the connection dropped
            return [True] * len(outcomes)
        return [flag == "1" for flag in str(reply)]


def _translate(exc: Exception, keys: RunKeys) -> Exception:
    if isinstance(exc, ResponseError) and "NORUN" in str(exc):
        return RunMissing(f"run {keys.run!r} is gone from Redis (restarted without persistence?)")
    return exc


def _settle(claims: list[Claim], exc: Exception) -> None:
    for future, _, _ in claims:
        if not future.done():
            future.set_exception(exc)
