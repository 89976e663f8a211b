"""The state of a run as its meta hash records it, and waiting for a run to appear."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from common import keys as k
from common.errors import run_gone
from common.keys import RunKeys

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunState:
    total: int
    produced: int
    done: bool
    delivered: int
    abandoned: int
    dead_letters: int = 0

    @property
    def finished(self) -> int:
        """Messages that need no more work: delivered or abandoned."""
        return self.delivered + self.abandoned

    @property
    def complete(self) -> bool:
        return self.done and self.finished >= self.total


_FIELDS = (
    k.META_TOTAL,
    k.META_PRODUCED,
    k.META_DONE,
    k.META_DELIVERED,
    k.META_ABANDONED,
    k.META_DEAD,
)


async def read_state(client: Redis, keys: RunKeys) -> RunState | None:
    """The run's state, or None when it has no meta (not created yet, or gone)."""
    values = await client.hmget(keys.meta, list(_FIELDS))
    if values[0] is None:
        return None
    total, produced, done, delivered, abandoned, dead = (int(v or 0) for v in values)
    return RunState(total, produced, bool(done), delivered, abandoned, dead)


async def require_state(client: Redis, keys: RunKeys) -> RunState:
    """The run's state; RunMissing when the run existed and its meta is gone."""
    state = await read_state(client, keys)
    if state is None:
        raise run_gone(keys.run)
    return state


async def wait_for_run(
    client: Redis, keys: RunKeys, stop: asyncio.Event, poll: float = 0.2
) -> RunState | None:
    """Wait until the producer has created the run, saying once that we wait.

    Returns None if ``stop`` is set first.
    """
    said = False
    while not stop.is_set():
        state = await read_state(client, keys)
        if state is not None:
            return state
        if not said:
            logger.info("waiting for run %r to appear (start sms-producer)", keys.run)
            said = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll)
    return None


async def ensure_group(client: Redis, keys: RunKeys) -> None:
    """Create the consumer group at id 0 (so an earlier backlog is read); BUSYGROUP is fine."""
    try:
        await client.xgroup_create(keys.outbox, k.GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
