"""``sms-sim runs``, ``show RUN`` and ``compare RUN_A RUN_B``: finished runs' summaries,
read from Redis (``monitor/views/history.py``) without re-running anything."""

from __future__ import annotations

from redis.asyncio import Redis

from common.connection import client_for
from common.errors import UsageProblem
from common.keys import RunKeys
from common.run import read_state
from common.target import RedisTarget
from monitor.views.history import StoredRun, find_runs, load


async def stored_runs(target: RedisTarget) -> list[StoredRun]:
    async with client_for(target, "runs") as client:
        return await find_runs(client)


async def finished(target: RedisTarget, *runs: str) -> list[StoredRun]:
    """The stored summaries of ``runs``; UsageProblem naming the first run that is
    missing or not finished."""
    async with client_for(target, "runs") as client:
        return [await _finished(client, target, run) for run in runs]


async def _finished(client: Redis, target: RedisTarget, run: str) -> StoredRun:
    found = await load(client, run)
    if found is not None:
        return found
    state = await read_state(client, RunKeys(run))
    if state is None:
        raise UsageProblem(
            f"no run {run!r} on {target.display} (sms-sim runs lists the finished runs)"
        )
    if not state.complete:
        raise UsageProblem(
            f"run {run!r} has not finished ({state.finished} of {state.total} messages "
            "settled): no summary yet"
        )
    raise UsageProblem(
        f"run {run!r} is complete but no monitor kept its summary: "
        f"`sms-monitor --run {run}` reads its checkpoint and keeps it"
    )
