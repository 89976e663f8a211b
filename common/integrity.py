"""Is a run whole? When its keys vanish, say why, where Redis can tell: evicted, an outbox
or its consumer group deleted while the run goes on, or the run reset (or lost with a
Redis restart). A role that waits on a run whose outbox is gone would wait for ever: it
checks with ``check_outboxes`` and ends with one line instead."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from common import keys as k
from common.errors import RunMissing
from common.keys import RunKeys
from common.run import read_state

EVICTING = "allkeys-"  # the policies that may evict keys without a TTL, as a run's are

EXPLAIN_WITHIN = 5.0  # seconds the explanation may take (Redis may be the problem)


async def check_outboxes(client: Redis, keys: RunKeys, partitions: int) -> None:
    """RunMissing when an outbox of the run, or its consumer group, is gone."""
    for part in keys.parts(partitions):
        missing = await _outbox_problem(client, part)
        if missing:
            raise _deleted(keys.run, missing)


async def explain(client: Redis, keys: RunKeys, error: RunMissing) -> RunMissing:
    """``error``, saying why the run's keys are gone when Redis can tell; ``error`` itself
    when it cannot (unreachable, no permission, or nothing to tell)."""
    try:
        return await asyncio.wait_for(_explain(client, keys, error), EXPLAIN_WITHIN)
    except (RedisError, OSError, TimeoutError):
        return error


async def _explain(client: Redis, keys: RunKeys, error: RunMissing) -> RunMissing:
    evicted, policy = await evictions(client)
    if evicted:
        return RunMissing(
            f"run {keys.run!r} lost keys to eviction: Redis has evicted {evicted} key(s) "
            f"(maxmemory-policy {policy}), so messages may be lost or counted twice; run "
            "on a server with maxmemory-policy noeviction",
            keys.run,
        )
    state = await read_state(client, keys)
    if state is None:
        return error  # the meta is gone: reset, or a restart without persistence
    try:
        await check_outboxes(client, keys, state.partitions)
    except RunMissing as deleted:
        return deleted
    return error


def _deleted(run: str, what: str) -> RunMissing:
    return RunMissing(
        f"run {run!r}: its {what} is gone from Redis while the run is not (deleted: DEL, "
        f"XGROUP DESTROY), so its messages cannot be delivered; sms-sim reset --run {run} "
        "and start the run again",
        run,
    )


async def _outbox_problem(client: Redis, keys: RunKeys) -> str | None:
    """ "outbox", "consumer group" or None (both there)."""
    try:
        groups: list[dict[str, Any]] = await client.xinfo_groups(keys.outbox)
    except ResponseError as exc:
        if "no such key" in str(exc).lower():
            return "outbox"
        raise
    names = {_text(g.get("name")) for g in groups}
    return None if k.GROUP in names else f"consumer group {k.GROUP!r}"


async def evictions(client: Redis) -> tuple[int, str]:
    """Keys Redis has evicted since it started, and its policy: (0, policy) when its policy
    cannot evict a run's keys (noeviction, or volatile-*: they have no TTL) or it cannot
    say (INFO not permitted)."""
    try:
        stats, memory = await client.info("stats"), await client.info("memory")
    except RedisError:
        return 0, "unknown"
    evicted = sum(int(node.get("evicted_keys") or 0) for node in _nodes(stats))
    policies = {str(node.get("maxmemory_policy", "noeviction")) for node in _nodes(memory)}
    policy = ", ".join(sorted(policies))
    evicting = any(p.startswith(EVICTING) for p in policies)
    return (evicted if evicting else 0), policy


def _nodes(info: dict[str, Any]) -> list[dict[str, Any]]:
    """INFO's sections: one per node of a cluster, else the one server's."""
    values = list(info.values())
    if values and all(isinstance(v, dict) for v in values):
        return values
    return [info]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
