"""The failures table, as Locust's: the run's dead stream counted by kind and reason.

Every entry of ``sms:{RUN}:dead`` (``common.results.DEAD_FIELDS``: id, seq, sender,
reason) is a message given up: **abandoned** after ``max_attempts``, **undeliverable**
(a number that cannot receive), or a **dead letter** (an outbox entry that could not be
processed: malformed, a seq outside the run, an outcome that could not be recorded). The
kind is the entry's ``kind`` field when it has one, else read from the reason the senders
write (``sender/attempts.py``: ``abandoned after N attempts``, ``undeliverable number
(permanent failure)``); anything else is a dead letter.

Memory is bounded whatever the run's size: reasons are grouped (whitespace collapsed; in a
dead letter's reason every number reads ``N``, and an outcome line that could not be
recorded is not quoted), cut at ``REASON_CHARS``, and at most ``MAX_REASONS`` are told
apart: later ones count as ``other reasons`` of their kind. A second abandonment or
rejection of one message (record.lua writes it to the stream, but counts the message
once) is counted once, by a bitmap of the run's seqs (at most ``total`` / 8 bytes, in
chunks made as failing seqs fall in them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ABANDONED, UNDELIVERABLE, DEAD_LETTER = "abandoned", "undeliverable", "dead letter"
KINDS = (ABANDONED, UNDELIVERABLE, DEAD_LETTER)  # the table's order
# How the senders word a reason of each settled kind (sender/attempts.py).
SAID = {ABANDONED: "abandoned after ", UNDELIVERABLE: "undeliverable number"}
# Kinds as an entry's own ``kind`` field may name them (record.lua's outcome kinds).
NAMED = {"abandon": ABANDONED, ABANDONED: ABANDONED, UNDELIVERABLE: UNDELIVERABLE}
MAX_REASONS = 50  # reasons told apart, at most (then "other reasons" of each kind)
REASON_CHARS = 120
OTHER = "other reasons"
UNKNOWN = "(no reason given)"
LINES = ("cannot record", "unreadable outcome")  # record.lua quotes the outcome's line
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Failure:
    kind: str  # ABANDONED, UNDELIVERABLE or DEAD_LETTER
    reason: str
    count: int


def kind_of(reason: str, named: str = "") -> str:
    """The kind of a dead-stream entry: its own ``kind`` field when known, else its
    reason's."""
    if named in NAMED:
        return NAMED[named]
    return next((kind for kind, said in SAID.items() if reason.startswith(said)), DEAD_LETTER)


def grouped(kind: str, reason: str) -> str:
    """``reason`` as the table groups it (see the module's docstring)."""
    text = SPACE.sub(" ", reason).strip()
    if kind == DEAD_LETTER:
        text = next((line for line in LINES if text.startswith(line + ":")), text)
        text = NUMBER.sub("N", text)
    if len(text) > REASON_CHARS:
        text = text[: REASON_CHARS - 1] + "…"
    return text or UNKNOWN


Text = str | bytes
CACHED = 4096  # raw reasons whose grouping is remembered (a run has a handful)


def _text(value: Text) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


CHUNK_BITS = 20  # seqs a chunk of the settled bitmap covers: 2^20 (128 KiB)


class Reasons:
    """Dead-stream entries counted by kind and grouped reason, in bounded memory."""

    def __init__(self, total: int, limit: int = MAX_REASONS) -> None:
        self.total = total
        self.limit = limit
        self.counts: dict[tuple[str, str], int] = {}
        # seqs abandoned or rejected: a bitmap in chunks made as seqs fall in them, so a
        # run of 10^9 messages with few failures does not hold 125 MB for them
        self._settled: dict[int, bytearray] = {}
        self._keys: dict[tuple[Text, Text], tuple[str, str]] = {}  # raw -> (kind, grouped)

    def add(self, reason: Text, seq: Text = "", named: Text = "") -> None:
        """Count one entry (its fields as read: str, or bytes undecoded)."""
        key = self._keys.get((reason, named))
        if key is None:
            text = _text(reason)
            kind = kind_of(text, _text(named))
            key = (kind, grouped(kind, text))
            if len(self._keys) < CACHED:
                self._keys[reason, named] = key
        if key[0] != DEAD_LETTER and self._again(seq):
            return
        if key not in self.counts and len(self.counts) >= self.limit:
            key = (key[0], OTHER)
        self.counts[key] = self.counts.get(key, 0) + 1

    def _again(self, seq: Text) -> bool:
        """The message ``seq`` was settled by an entry counted before (marks it if not)."""
        if not (seq.isascii() and seq.isdigit()) or int(seq) >= self.total:
            return False
        n = int(seq)
        chunk = self._settled.get(n >> CHUNK_BITS)
        if chunk is None:
            chunk = self._settled[n >> CHUNK_BITS] = bytearray(1 << (CHUNK_BITS - 3))
        byte, bit = (n & ((1 << CHUNK_BITS) - 1)) >> 3, 1 << (n & 7)
        if chunk[byte] & bit:
            return True
        chunk[byte] |= bit
        return False

    def failures(self) -> tuple[Failure, ...]:
        """A row per kind and reason: kinds in ``KINDS`` order, the most frequent reason
        first (``other reasons`` last)."""
        return tuple(
            Failure(kind, reason, count)
            for (kind, reason), count in sorted(
                self.counts.items(),
                key=lambda item: (KINDS.index(item[0][0]), item[0][1] == OTHER, -item[1],
                                  item[0][1]),
            )
        )  # fmt: skip
