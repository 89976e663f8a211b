"""Recording attempts: batched into one Lua call per round trip, atomic per message.

One recorder per process (and partition) writes the outcomes of every sender in the
process: each line names its sender, and a batch mixes them freely.

A success writes its result entry, sets the message's delivered bit, counts it in the
run's meta, acks it and trims it from the outbox, all in one step. A success for a
message already delivered is acked and written as a suppressed duplicate (``dup 1``).
Each batch carries an id kept per recorder in the run's meta, so a batch retried after a
lost reply is not written twice. The delivered bitmap drops the bits of the run's settled
prefix as it grows (their count is the meta's ``delivered_base``), so it stays as small
as the backlog. A batch travels as one string argument (one line per outcome,
tab-separated fields): packing thousands of separate arguments costs more.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from common import scripts
from common.errors import translate
from common.keys import RunKeys

logger = logging.getLogger(__name__)

FAIL, OK, ABANDON, MALFORMED = "fail", "ok", "abandon", "malformed"
UNDELIVERABLE = "undeliverable"
LINGER = 0.01  # seconds an outcome may wait for others to share its write
COMPACT_AT = 1 << 16  # settled bits (8 KiB) that leave the delivered bitmap at once

RECORD = scripts.load("sender", "record.lua")
LINE = "%s\t%s\t%s\t%s\t%d\t%.6f\t%.6f\t%.6f\t%s"  # an outcome as sender/record.lua reads it


@dataclass(slots=True)
class Outcome:
    """One attempt's outcome, or a message given up (abandoned) or rejected (malformed).

    ``duration`` is the attempt's simulated time (the drawn delay), ``late`` how long
    after its intended end the attempt really ended (the simulator's own error);
    ``extra`` is the latency for a success and the reason for a dead letter.
    """

    kind: str
    entry_id: str
    seq: str
    attempt: int = 0
    duration: float = 0.0
    ts: float = 0.0
    extra: str = ""
    late: float = 0.0
    sender: str = ""  # the sender's name ("": the recorder's own)

    def line(self, sender: str) -> str:
        """The outcome as the script reads it (``seq`` and ``extra`` hold no tab or newline:
        see ``sender.attempts.parse_entry``; nor does a sender's name: ``SenderSettings``),
        ``sender`` naming it when it names no sender itself."""
        return LINE % (  # %-formatting: half the time of an f-string here (measured)
            self.kind,
            self.sender or sender,
            self.entry_id.rpartition("/")[2],  # the stream id (sender.partitions)
            self.seq,
            self.attempt,
            self.duration,
            self.late,
            self.ts,
            self.extra,
        )


# Called once outcomes are written: their flags, or the error that stopped the write.
Written = Callable[[list[bool] | BaseException], None]
Claim = tuple[Written, int, int]  # (callback, first index, count)


class Recorder:
    """Collects outcomes and writes them in batches; ``submit`` waits for the write.
    ``sender``: the recorder's name (its batch tag), and the sender of outcomes that name
    none."""

    def __init__(
        self,
        client: Redis,
        keys: RunKeys,
        sender: str,
        *,
        run_id: str,
        max_batch: int = 2000,
        compact_at: int | None = None,
    ) -> None:
        self.keys = keys
        self.sender = sender
        self.run_id = run_id
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
        future: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()
        self.then(outcomes, functools.partial(_resolve, future))
        return await future

    def then(self, outcomes: list[Outcome], written: Written) -> None:
        """Queue outcomes; ``written`` gets their flags (as ``submit``), or the error,
        once they are written (no future, no task: the hot path's way)."""
        self._claims.append((written, len(self._pending), len(outcomes)))
        self._pending.extend(outcomes)
        self._wake.set()

    async def run(self) -> None:
        """Write queued outcomes until cancelled; then write what is left."""
        try:
            while True:
                await self._wake.wait()
                if len(self._pending) < self.max_batch:
                    await asyncio.sleep(LINGER)  # let a batch build up: fewer round trips
                self._wake.clear()
                await self._write_pending()  # what came meanwhile waits for the next turn
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
        """Write until nothing is pending."""
        while self._pending:
            await self._write_pending()

    async def _write_pending(self) -> None:
        """Write what is pending now (in batches of at most ``max_batch``)."""
        outcomes, claims = self._pending, self._claims
        self._pending, self._claims = [], []
        flags: list[bool] = []
        try:
            for start in range(0, len(outcomes), self.max_batch):
                chunk = outcomes[start : start + self.max_batch]
                flags += await self.write(chunk, f"{self._nonce}-{next(self._batches)}")
        except Exception as exc:
            error = translate(exc, self.keys.run)
            for written, _, _ in claims:
                written(error)
            raise error from None
        for written, first, count in claims:
            written(flags[first : first + count])

    async def write(self, outcomes: list[Outcome], batch_id: str) -> list[bool]:
        """Write one batch now; a batch written before under the same id (a retry after
        a lost reply) is not written again and gets the flags of its first write."""
        payload = "\n".join([outcome.line(self.sender) for outcome in outcomes])
        keys = [
            self.keys.outbox,
            self.keys.results,
            self.keys.delivered,
            self.keys.meta,
            self.keys.dead,
        ]
        args: list[str | int] = [
            self.run_id,
            self.sender,
            batch_id,
            payload,
            self.compact_at,
            self.keys.partition,
            self.keys.partitions,
        ]
        reply = await self._script(keys=keys, args=args)
        return [flag == "1" for flag in str(reply)]


def _resolve(future: asyncio.Future[list[bool]], result: list[bool] | BaseException) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
