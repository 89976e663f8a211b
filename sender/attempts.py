"""What one attempt at a message produces: the outcomes the recorder writes."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from common import clock
from common.codec import SEQ, Message, printable
from common.errors import MalformedEntry
from common.gateway.gateway import REJECTED, SENT, Attempt, Gateway
from common.run import RunState
from sender.inbox import Fields
from sender.recorder import ABANDON, FAIL, MALFORMED, OK, UNDELIVERABLE, Outcome

logger = logging.getLogger(__name__)


# How far a message's created time may stray from the run's (producers on other hosts
# with other clocks): further means it is no message of the run's.
CLOCK_SKEW = 3600.0


def parse_entry(entry_id: str, fields: Fields, run: RunState, now: float) -> Message | Outcome:
    """The message, or the dead-letter outcome of an entry that is not one of the run's
    messages (malformed, invalid bytes, a seq outside the run, created before the run or
    after ``now``, give or take the clocks' skew)."""
    try:
        msg = Message.parse(fields)
        if msg.seq >= run.total:
            raise MalformedEntry(f"seq {msg.seq} outside the run (0..{run.total - 1})")
        if run.created and not run.created - CLOCK_SKEW <= msg.created <= now + CLOCK_SKEW:
            raise MalformedEntry(f"created time {msg.created:.6g}: before the run or to come")
    except MalformedEntry as exc:
        logger.warning("dead-lettering entry %s: %s", entry_id, exc)
        seq = printable(_field(fields, SEQ.encode()), limit=40)
        return Outcome(MALFORMED, entry_id, seq, extra=printable(f"malformed: {exc}", 300))
    return msg


def _field(fields: Fields, name: bytes) -> bytes:
    for i in range(0, len(fields) - 1, 2):
        if fields[i] == name:
            return fields[i + 1]
    return b""


@dataclass(slots=True)
class Attempts:
    """The outcomes of one attempt, as the recorder writes them."""

    gateway: Gateway
    max_attempts: int | None
    sender: str = ""  # the sender's name, on every outcome

    def outcomes(
        self, entry_id: str, msg: Message, attempt: int, done: Attempt, late: float = 0.0
    ) -> list[Outcome]:
        """[OK]; [FAIL] (to retry); [FAIL, ABANDON] once max_attempts is reached; [FAIL,
        UNDELIVERABLE] for an undeliverable number. ``late``: how long after it was due
        the attempt ended. The message is settled unless the last outcome is FAIL."""
        ts = clock.now()
        seq, who = str(msg.seq), self.sender
        if done.kind == SENT:
            latency = f"{ts - msg.created:.6f}"
            return [Outcome(OK, entry_id, seq, attempt, done.duration, ts, latency, late, who)]
        failed = Outcome(FAIL, entry_id, seq, attempt, done.duration, ts, "", late, who)
        if done.kind == REJECTED:
            reason = "undeliverable number (permanent failure)"
            return [
                failed,
                Outcome(UNDELIVERABLE, entry_id, seq, attempt, extra=reason, sender=who),
            ]
        if self.max_attempts and attempt >= self.max_attempts:
            reason = f"abandoned after {attempt} attempts"
            return [failed, Outcome(ABANDON, entry_id, seq, attempt, extra=reason, sender=who)]
        return [failed]

    def all_now(self, entry_id: str, msg: Message, invalid: bool = False) -> list[Outcome]:
        """Every attempt until the message is settled, with no delay (mean_time 0)."""
        outcomes: list[Outcome] = []
        while not outcomes or outcomes[-1].kind == FAIL:
            done = self.gateway.attempt(0.0, invalid)
            outcomes += self.outcomes(entry_id, msg, len(outcomes) + 1, done)
        return outcomes
