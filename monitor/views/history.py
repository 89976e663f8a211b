"""Run history: every finished run's JSON summary, kept in Redis under the run.

When a run completes, the monitor writes ``sms:{RUN}:summary``, a hash of four fields:
``summary`` (the JSON summary exactly as ``--json`` prints it), ``created`` and
``finished`` (epoch seconds: the run's creation and its last result), and ``config``
(JSON: the configuration the run ran, ``configuration``: its parameters from the meta,
the producer's settings, its thresholds and its fleet's profiles). The write checks
the run's incarnation like every other (``common/guarded.lua``); any monitor of the run
may make it, each with the same exact totals. Its size grows with the senders only
(about 300 bytes each); ``sms-sim reset`` deletes it with the rest of the run.

``sms-sim runs`` finds the summaries with SCAN (``MATCH sms:{*}:summary``, a cursor
over the keyspace in steps of ``SCAN_COUNT``): no KEYS, no index to keep in step.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from common import keys as k
from common.errors import RedisRefused
from common.keys import RunKeys
from common.run import RunState, RunWrites, read_state
from monitor.figures.fleet import SenderRow
from monitor.figures.report import Report
from monitor.views.json_summary import summary

logger = logging.getLogger(__name__)

SUMMARY, CREATED, FINISHED, CONFIG = "summary", "created", "finished", "config"
PRODUCER = ("seed", "max_backlog", "batch_size")  # the producer's settings the meta echoes
DUPLICATES = "duplicates_suppressed"  # the summary's figure that can grow after it is kept
PATTERN = RunKeys("*").summary  # sms:{*}:summary
SCAN_COUNT = 1000


@dataclass(frozen=True)
class StoredRun:
    run: str
    summary: dict[str, Any]
    created: float  # epoch seconds (0: unknown)
    finished: float  # epoch seconds of the run's last result (0: unknown)
    config: dict[str, Any] | None = None  # what it ran (None: kept by an older version)


async def keep(client: Redis, keys: RunKeys, run_id: str, rep: Report) -> bool:
    """Keep a complete run's summary under the run; False (nothing written) when the
    report is not of a complete run."""
    if not rep.complete:
        return False
    fields = {
        SUMMARY: json.dumps(summary(rep)),
        CREATED: repr(rep.created),
        FINISHED: repr(rep.finished_at or rep.now),
        CONFIG: json.dumps(await configuration(client, keys, rep)),
    }
    try:
        await RunWrites(client, keys, run_id).hset_many(keys.summary, fields)
    except RedisRefused as exc:  # out of memory, or an ACL: the run itself is done
        logger.warning("the run's summary is not kept in Redis: %s", exc)
        return False
    logger.debug("summary of run %r kept in %s", keys.run, keys.summary)
    return True


async def configuration(client: Redis, keys: RunKeys, rep: Report) -> dict[str, Any]:
    """The configuration the run ran, under the config file's names: its messages and
    run-level parameters (the meta's), the producer's seed, backlog cap and batch size (the
    meta's ``config``), its thresholds, and ``senders``: its fleet's profiles (each with
    how many ``senders`` had it), in order of mean time and failure rate."""
    state = await read_state(client, keys)
    found: dict[str, Any] = {"num_messages": rep.total}
    if state is not None:
        found |= _parameters(state)
    producer = _object(await client.hget(keys.run_meta, k.META_CONFIG))
    found |= {name: producer[name] for name in PRODUCER if name in producer}
    if rep.thresholds:
        found["thresholds"] = {v.threshold.figure: v.threshold.condition for v in rep.thresholds}
    found["senders"] = fleet_profiles(rep.senders)
    return found


def _parameters(state: RunState) -> dict[str, Any]:
    found: dict[str, Any] = {
        "time_scale": state.time_scale,
        "invalid_fraction": state.invalid_fraction,
        "partitions": state.partitions,
    }
    if state.account_rate is not None:
        found["account"] = {"max_rate": state.account_rate, "burst": state.account_burst}
    return found


def _object(raw: object) -> dict[str, Any]:
    try:
        data = json.loads(raw) if isinstance(raw, (str, bytes)) else None
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def fleet_profiles(rows: tuple[SenderRow, ...]) -> list[dict[str, Any]]:
    """The senders' profiles as they claimed them (their configured figures when a
    heartbeat told none), one entry per profile with how many senders had it."""
    counted: dict[str, int] = {}
    for row in rows:
        profile = row.profile or {
            "mean_time": row.mean_time,
            "failure_rate": row.failure_rate,
            "concurrency": row.concurrency,
        }
        key = json.dumps(profile, sort_keys=True, default=str)
        counted[key] = counted.get(key, 0) + 1

    def order(key: str) -> tuple[float, float, str]:
        p = json.loads(key)
        mean, fail = p.get("mean_time"), p.get("failure_rate")
        number = (int, float)
        return (mean if isinstance(mean, number) else math.inf,
                fail if isinstance(fail, number) else math.inf, key)  # fmt: skip

    return [{"senders": counted[key], **json.loads(key)} for key in sorted(counted, key=order)]


def _parse(run: str, fields: dict[str, str]) -> StoredRun | None:
    try:
        data = json.loads(fields[SUMMARY])
        if not isinstance(data, dict):
            raise TypeError("not an object")
        config = _object(fields[CONFIG]) if CONFIG in fields else None
        return StoredRun(
            run, data, float(fields.get(CREATED) or 0), float(fields.get(FINISHED) or 0), config
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
