"""The failures table of a run's final report: its dead streams, read once at the end.

Counted when the monitor ends (its final report, a run complete or stopped), from every
partition's ``sms:{TAG}:dead`` in pages of ``PAGE`` entries (``XRANGE``, replies left raw:
no dict per entry), grouped by kind and reason in bounded memory
(``monitor/tally/failures.py``). The stream holds every entry for as long as the run
lives (it is never trimmed), so one read at the end is exact, costs nothing while the run
goes (no work on the hot path, nothing in the shared checkpoint), and a monitor
restarted, or started after the end, counts the same. It reads about 300,000 entries a
second: a run of 10^6 messages to numbers of which 10 % cannot receive ends 0.3 s later.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis
from redis.client import NEVER_DECODE
from redis.exceptions import ResponseError

from common.connection import flat_entries, raw_streams
from common.keys import RunKeys
from common.results import DEAD_FIELDS
from monitor.tally.failures import Failure, Reasons

logger = logging.getLogger(__name__)

PAGE = 2000  # entries per XRANGE
SEQ, REASON, KIND = b"seq", b"reason", b"kind"
# record.lua writes DEAD_FIELDS in this order: the seq and the reason by position
LAYOUT = tuple(name.encode() for name in DEAD_FIELDS)
_SEQ_AT, _REASON_AT = 2 * LAYOUT.index(SEQ) + 1, 2 * LAYOUT.index(REASON) + 1


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def count(reasons: Reasons, entries: list[Any]) -> None:
    """Count raw dead-stream entries: by position in record.lua's layout, else by name."""
    for _, fields in entries:
        if not fields:
            continue
        if len(fields) == 2 * len(LAYOUT) and tuple(fields[::2]) == LAYOUT:
            reasons.add(fields[_REASON_AT], fields[_SEQ_AT])
            continue
        named = {_bytes(k): _bytes(v) for k, v in zip(fields[::2], fields[1::2], strict=False)}
        reasons.add(named.get(REASON, b""), named.get(SEQ, b""), named.get(KIND, b""))


async def failures(
    client: Redis, keys: RunKeys, partitions: int, total: int
) -> tuple[Failure, ...] | None:
    """The run's dead-stream entries by kind and reason; None when a dead stream cannot be
    read (a key of another type: the summary then says the failures are unknown)."""
    reasons = Reasons(total)
    raw = raw_streams(client)
    try:
        for part in keys.parts(partitions):
            start: bytes | str = "-"
            while True:
                args = ["XRANGE", part.dead, start, "+", "COUNT", PAGE]
                reply = await raw.execute_command(*args, **{NEVER_DECODE: True})  # type: ignore[no-untyped-call]
                entries = flat_entries(reply or [])
                count(reasons, entries)
                if len(entries) < PAGE:
                    break
                start = b"(" + _bytes(entries[-1][0])
    except ResponseError as exc:
        logger.warning("the run's failures by reason are unknown: its dead stream: %s", exc)
        return None
    return reasons.failures()
