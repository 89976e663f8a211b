"""``sms-sim runs``, ``show RUN`` and ``compare RUN_A RUN_B``: finished runs' summaries,
read from Redis (``monitor/views/history.py``) without re-running anything; and the runs
the server holds that have no summary, listed from their meta: ``running`` (a sender at
work), ``interrupted`` (stopped before completion, or waiting for senders) or
``complete`` (no monitor kept its summary)."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from common.connection import client_for
from common.errors import UsageProblem
from common.heartbeat import STOPPED, Heartbeat
from common.keys import RunKeys
from common.run import RunState, read_state, run_names
from common.target import RedisTarget
from monitor.figures.health import GONE_AFTER
from monitor.views.history import StoredRun, find_runs, load

RUNNING, INTERRUPTED, COMPLETE = "running", "interrupted", "complete"


@dataclass(frozen=True)
class Unfinished:
    """A run the server holds with no summary kept: how far it got, from its meta."""

    run: str
    state: RunState
    status: str  # RUNNING, INTERRUPTED or COMPLETE (no monitor kept its summary)
    last_seen: float  # epoch seconds of its latest heartbeat (0: none)


Listed = StoredRun | Unfinished


async def stored_runs(target: RedisTarget) -> list[Listed]:
    """The finished runs' summaries, newest first, then the runs without one (the most
    recently seen first)."""
    async with client_for(target, "runs") as client:
        kept = await find_runs(client)
        return [*kept, *await unfinished(client, {stored.run for stored in kept})]


async def unfinished(client: Redis, kept: set[str]) -> list[Unfinished]:
    """The runs the server holds (``common.run.run_names``: at most 1000) that have no
    summary among ``kept``."""
    try:
        names, _ = await run_names(client)
    except ResponseError:  # an ACL without SCAN: the summaries are all we can list
        return []
    now = await _now(client)
    found = []
    for name in names:
        if name in kept:
            continue
        keys = RunKeys(name)
        state = await read_state(client, keys)
        if state is not None:
            found.append(await _unfinished(client, keys, state, now))
    return sorted(found, key=lambda u: (-(u.last_seen or u.state.created), u.run))


async def _unfinished(client: Redis, keys: RunKeys, state: RunState, now: float) -> Unfinished:
    raw: dict[str, str] = await client.hgetall(keys.senders)  # type: ignore[assignment]
    beats = [Heartbeat.parse(name, value) for name, value in raw.items()]
    last = max((beat.heartbeat for beat in beats), default=0.0)
    working = any(b.status != STOPPED and now - b.heartbeat <= GONE_AFTER for b in beats)
    status = COMPLETE if state.complete else RUNNING if working else INTERRUPTED
    return Unfinished(keys.run, state, status, last)


async def _now(client: Redis) -> float:
    """Redis's clock (the heartbeats' own)."""
    seconds, micros = await client.time()
    return float(seconds) + float(micros) / 1e6


async def finished(target: RedisTarget, *runs: str) -> list[StoredRun]:
    """The stored summaries of ``runs``; UsageProblem naming the first run that is
    missing or not finished."""
    async with client_for(target, "runs") as client:
        return [await _finished(client, target, run) for run in runs]


async def _finished(client: Redis, target: RedisTarget, run: str) -> StoredRun:
    found = await load(client, run)
    if found is not None:
        return found
    keys = RunKeys(run)
    state = await read_state(client, keys)
    if state is None:
        raise UsageProblem(
            f"no run {run!r} on {target.display} (sms-sim runs lists the finished runs)"
        )
    if not state.complete:
        seen = await _unfinished(client, keys, state, await _now(client))
        raise UsageProblem(
            f"run {run!r} has not finished ({state.finished} of {state.total} messages "
            f"settled; {_why(seen.status)}): no summary yet"
        )
    raise UsageProblem(
        f"run {run!r} is complete but no monitor kept its summary: "
        f"`sms-monitor --run {run}` reads its checkpoint and keeps it"
    )


def _why(status: str) -> str:
    if status == RUNNING:
        return "running: a sender is at work"
    return "interrupted: no sender at work; sms-sim run with its --run and config resumes it"
