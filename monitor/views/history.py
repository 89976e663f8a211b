"""Run history: every finished run's JSON summary, kept in Redis under the run.

When a run completes, the monitor writes ``sms:{RUN}:summary``, a hash of three fields:
``summary`` (the JSON summary exactly as ``--json`` prints it), ``created`` and
``finished`` (epoch seconds: the run's creation and its last result). The write checks
the run's incarnation like every other (``common/guarded.lua``); any monitor of the run
may make it, each with the same exact totals. Its size grows with the senders only
(about 300 bytes each); ``sms-sim reset`` deletes it with the rest of the run.

``sms-sim runs`` finds the summaries with SCAN (``MATCH sms:{*}:summary``, a cursor
over the keyspace in steps of ``SCAN_COUNT``): no KEYS, no index to keep in step.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from common.errors import RedisRefused
from common.keys import RunKeys
from common.run import RunWrites, read_state
from monitor.figures.report import Report
from monitor.views.json_summary import summary

logger = logging.getLogger(__name__)

SUMMARY, CREATED, FINISHED = "summary", "created", "finished"
DUPLICATES = "duplicates_suppressed"  # the summary's figure that can grow after it is kept
PATTERN = RunKeys("*").summary  # sms:{*}:summary
SCAN_COUNT = 1000


@dataclass(frozen=True)
class StoredRun:
    run: str
    summary: dict[str, Any]
    created: float  # epoch seconds (0: unknown)
    finished: float  # epoch seconds of the run's last result (0: unknown)


async def keep(client: Redis, keys: RunKeys, run_id: str, rep: Report) -> bool:
    """Keep a complete run's summary under the run; False (nothing written) when the
    report is not of a complete run."""
    if not rep.complete:
        return False
    fields = {
        SUMMARY: json.dumps(summary(rep)),
        CREATED: repr(rep.created),
        FINISHED: repr(rep.finished_at or rep.now),
    }
    try:
        await RunWrites(client, keys, run_id).hset_many(keys.summary, fields)
    except RedisRefused as exc:  # out of memory, or an ACL: the run itself is done
        logger.warning("the run's summary is not kept in Redis: %s", exc)
        return False
    logger.debug("summary of run %r kept in %s", keys.run, keys.summary)
    return True


def _parse(run: str, fields: dict[str, str]) -> StoredRun | None:
    try:
        data = json.loads(fields[SUMMARY])
        if not isinstance(data, dict):
            raise TypeError("not an object")
        return StoredRun(
            run, data, float(fields.get(CREATED) or 0), float(fields.get(FINISHED) or 0)
        )
    except (KeyError, ValueError, TypeError) as exc:
        logger.warning("run %r: its stored summary is unreadable (%s); left out", run, exc)
        return None


async def load(client: Redis, run: str) -> StoredRun | None:
    """The stored summary of ``run``; None when it has none (or an unreadable one, or a
    key of that name that is no summary). Duplicates recorded after the summary was kept
    (a sender's last attempt landing after the last monitor exited) are counted in."""
    keys = RunKeys(run)
    try:
        fields: dict[str, str] = await client.hgetall(keys.summary)  # type: ignore[assignment]
    except ResponseError as exc:
        logger.warning("run %r: %s is not a stored summary (%s); left out", run, keys.summary, exc)
        return None
    stored = _parse(run, fields) if fields else None
    state = await read_state(client, keys) if stored else None
    kept = stored.summary.get(DUPLICATES) if stored else None
    if stored and state and state.duplicates > (kept if isinstance(kept, int) else 0):
        stored.summary[DUPLICATES] = state.duplicates
    return stored


def run_of(key: str) -> str:
    """The run a summary key belongs to: ``sms:{NAME}:summary`` -> ``NAME``."""
    head, tail = "sms:{", "}:summary"
    return key[len(head) : -len(tail)]


async def find_runs(client: Redis) -> list[StoredRun]:
    """Every run with a stored summary, newest first."""
    runs = []
    async for key in client.scan_iter(match=PATTERN, count=SCAN_COUNT):
        found = await load(client, run_of(key))
        if found is not None:
            runs.append(found)
    return sorted(runs, key=lambda r: (-r.finished, r.run))
