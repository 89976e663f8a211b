"""The results stream's entries: one per send attempt (DESIGN.md, "Result fields").

The recording script (sender/record.lua) writes the fields in ``FIELDS`` order, then one
extra pair: ``latency`` for a first success, ``dup 1`` for a suppressed duplicate, none
for a failure. The monitor reads that layout by position (``AT``); any other layout is
read field by field (``Result.from_fields``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SEQ, SENDER, ATTEMPT, OK, DURATION, TS = "seq", "sender", "attempt", "ok", "duration", "ts"
LATE, LATENCY, DUP = "late", "latency", "dup"
# duration: the attempt's simulated time (the delay drawn from the sender's distribution);
# late: how long after its intended end the attempt really ended (the simulator's error).
FIELDS = (SEQ, SENDER, ATTEMPT, OK, DURATION, LATE, TS)
EXTRAS = (LATENCY, DUP)

# Positions in the flat [name, value, ...] list of an entry in the senders' layout.
AT = {name: 2 * i + 1 for i, name in enumerate(FIELDS)}
EXTRA_NAME_AT = 2 * len(FIELDS)
EXTRA_AT = EXTRA_NAME_AT + 1
TRUE = "1"

# The dead stream's entries: the outbox entry id, its seq, who gave up on it, and why.
DEAD_FIELDS = ("id", "seq", "sender", "reason")


@dataclass(frozen=True, slots=True)
class Result:
    """One send attempt. ``dup`` marks a success for a message already delivered
    (suppressed); ``latency`` is set on a first success only."""

    seq: int
    sender: str
    attempt: int
    ok: bool
    duration: float
    ts: float
    latency: float | None = None
    dup: bool = False
    late: float = 0.0

    def fields(self) -> list[str]:
        """The entry as the recording script writes it: flat, in the senders' layout."""
        values = (self.seq, self.sender, self.attempt, TRUE if self.ok else "0")
        flat: list[str] = []
        numbers = (self.duration, self.late, self.ts)
        for name, value in zip(FIELDS, (*values, *numbers), strict=True):
            flat += [name, str(value)]
        if self.dup:
            flat += [DUP, TRUE]
        elif self.ok and self.latency is not None:
            flat += [LATENCY, str(self.latency)]
        return flat

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Result:
        """An entry in any field order (str values). KeyError/ValueError when invalid."""
        latency = fields.get(LATENCY)
        return cls(
            int(fields[SEQ]),
            fields[SENDER],
            int(fields[ATTEMPT]),
            fields[OK] == TRUE,
            float(fields[DURATION]),
            float(fields[TS]),
            float(latency) if latency is not None else None,
            DUP in fields,
            float(fields.get(LATE, 0.0)),  # absent from results written before it existed
        )
