"""The state of a run as its meta hash records it, and waiting for a run to appear."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from common import keys as k
from common import scripts
from common.errors import run_gone, translate
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
    id: str = ""  # the run's incarnation (common.keys.META_ID)
    undeliverable: int = 0
    created: float = 0.0  # epoch seconds: the run's simulated time 0
    time_scale: float = 1.0
    invalid_fraction: float = 0.0
    account_rate: float | None = None
    account_burst: int = 1
    partitions: int = 1
    duplicates: int = 0  # suppressed deliveries of messages delivered before

    @property
    def finished(self) -> int:
        """Messages that need no more work: delivered, abandoned or undeliverable."""
        return self.delivered + self.abandoned + self.undeliverable

    @property
    def complete(self) -> bool:
        return self.done and self.finished >= self.total


_FIELDS = (
    k.META_ID,
    k.META_TOTAL,
    k.META_PRODUCED,
    k.META_DONE,
    k.META_DELIVERED,
    k.META_ABANDONED,
    k.META_DEAD,
    k.META_UNDELIVERABLE,
    k.META_CREATED,
    k.META_TIME_SCALE,
    k.META_INVALID_FRACTION,
    k.META_ACCOUNT_RATE,
    k.META_ACCOUNT_BURST,
    k.META_PARTITIONS,
    k.META_DUPLICATES,
)
# A partition's own counters (each partition of a run of several keeps them in its meta).
_COUNTS = (
    k.META_PRODUCED,
    k.META_DELIVERED,
    k.META_ABANDONED,
    k.META_DEAD,
    k.META_UNDELIVERABLE,
    k.META_DUPLICATES,
)


async def read_state(client: Redis, keys: RunKeys) -> RunState | None:
    """The run's state, or None when it has no meta (not created yet, or gone). A run of
    several partitions counts what every partition's meta counts."""
    meta = dict(zip(_FIELDS, await client.hmget(keys.run_meta, list(_FIELDS)), strict=True))
    if meta[k.META_TOTAL] is None:
        return None  # not created yet, or gone
    partitions = int(meta[k.META_PARTITIONS] or 1)
    counts = {name: int(meta[name] or 0) for name in _COUNTS}
    if partitions > 1:
        counts = await _partition_counts(client, keys, partitions)
    account_rate = meta[k.META_ACCOUNT_RATE]
    return RunState(
        total=int(meta[k.META_TOTAL] or 0),
        produced=counts[k.META_PRODUCED],
        done=bool(int(meta[k.META_DONE] or 0)),
        delivered=counts[k.META_DELIVERED],
        abandoned=counts[k.META_ABANDONED],
        dead_letters=counts[k.META_DEAD],
        id=str(meta[k.META_ID] or ""),  # "": a run made before runs had ids
        undeliverable=counts[k.META_UNDELIVERABLE],
        created=float(meta[k.META_CREATED] or 0.0),
        time_scale=float(meta[k.META_TIME_SCALE] or 1.0),
        invalid_fraction=float(meta[k.META_INVALID_FRACTION] or 0.0),
        account_rate=float(account_rate) if account_rate else None,
        account_burst=int(meta[k.META_ACCOUNT_BURST] or 1),
        partitions=partitions,
        duplicates=counts[k.META_DUPLICATES],
    )


async def _partition_counts(client: Redis, keys: RunKeys, parts: int) -> dict[str, int]:
    """Each of ``_COUNTS`` (produced, delivered, abandoned, dead letters, undeliverable),
    summed over every partition (one command per partition: in a cluster each lives in a
    slot of its own)."""
    summed = dict.fromkeys(_COUNTS, 0)
    for part in keys.parts(parts):
        values = await client.hmget(part.meta, list(_COUNTS))
        for name, value in zip(_COUNTS, values, strict=True):
            summed[name] += int(value or 0)
    return summed


async def require_state(client: Redis, keys: RunKeys, run_id: str) -> RunState:
    """The run's state; RunMissing when its meta is gone, or was created again since
    (another incarnation: ``run_id`` differs)."""
    state = await read_state(client, keys)
    if state is None or state.id != run_id:
        raise run_gone(keys.run)
    return state


async def wait_for_run(
    client: Redis, keys: RunKeys, stop: asyncio.Event, poll: float = 0.2
) -> RunState | None:
    """Wait until the producer has created the run, saying once that we wait, and which
    runs the server has (a misspelt ``--run`` waits for ever otherwise).

    Returns None if ``stop`` is set first.
    """
    said = False
    while not stop.is_set():
        state = await read_state(client, keys)
        if state is not None:
            return state
        if not said:
            logger.info(
                "waiting for run %r to appear (start sms-producer)%s",
                keys.run,
                f"; {found}" if (found := await runs_on_server(client, keys.run)) else "",
            )
            said = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll)
    return None


RUNS_NAMED = 10  # runs a message names at most
_RUNS_READ = 1000  # runs looked at, at most (the closest to a name is among them)
_SCAN_COUNT = 1000  # keys one SCAN step looks at
_SCAN_STEPS = 100  # SCAN steps at most: a server of millions of keys is not read through


async def run_names(client: Redis, limit: int = _RUNS_READ) -> tuple[list[str], bool]:
    """The names of runs the server holds (each has a meta hash, ``sms:{RUN}:meta``),
    sorted, at most ``limit``, and whether there may be more (more runs, or more keys
    than ``_SCAN_STEPS`` steps of SCAN looked at)."""
    pattern = RunKeys("*").run_meta  # sms:{*}:meta (a partition's tag has a ':' in it)
    found: set[str] = set()
    if isinstance(client, RedisCluster):  # its SCAN goes node by node
        async for key in client.scan_iter(match=pattern, count=_SCAN_COUNT):
            found.update(_run_of_meta(key))
            if len(found) > limit:
                break
        return sorted(found)[:limit], len(found) > limit
    cursor: int | bytes | str = 0
    for _ in range(_SCAN_STEPS):
        cursor, keys = await client.scan(cursor=int(cursor), match=pattern, count=_SCAN_COUNT)
        for key in keys:
            found.update(_run_of_meta(key))
        if int(cursor) == 0 or len(found) > limit:
            break
    return sorted(found)[:limit], len(found) > limit or int(cursor) != 0


def _run_of_meta(key: str | bytes) -> list[str]:
    """``sms:{NAME}:meta`` -> [NAME]; [] for a partition's meta (``sms:{NAME:P}:meta``)."""
    text = key.decode() if isinstance(key, bytes) else key
    name = text[len("sms:{") : -len("}:meta")]
    return [name] if name and ":" not in name else []


async def runs_on_server(client: Redis, wanted: str | None = None) -> str:
    """``runs on this server: a, b`` (the first ``RUNS_NAMED``, then ``...``), with ``did
    you mean`` the one closest to ``wanted``; ``no run on this server yet``; or "" when
    the server does not let us look (an ACL without SCAN)."""
    try:
        names, more = await run_names(client)
    except ResponseError as exc:
        logger.debug("cannot list the runs: %s", exc)
        return ""
    if not names:
        return "no run on this server yet"
    shown = names[:RUNS_NAMED]
    etc = ", ..." if more or len(names) > len(shown) else ""
    close = difflib.get_close_matches(wanted, names, n=1) if wanted else []
    meant = f" (did you mean {close[0]!r}?)" if close else ""
    return f"runs on this server: {', '.join(shown)}{etc}{meant}"


async def ensure_group(client: Redis, keys: RunKeys) -> None:
    """Create the consumer group at id 0 (so an earlier backlog is read); BUSYGROUP is fine."""
    try:
        await client.xgroup_create(keys.outbox, k.GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


GUARDED = scripts.load("common", "guarded.lua")


class RunWrites:
    """Writes outside the roles' own scripts, each made only while the run is still the
    incarnation ``run_id`` (``common/guarded.lua``)."""

    def __init__(self, client: Redis, keys: RunKeys, run_id: str) -> None:
        self.keys = keys
        self.run_id = run_id
        self._script = client.register_script(GUARDED)

    async def hset(self, key: str, field: str, value: str) -> None:
        await self._call(key, "HSET", field, value)

    async def hset_many(self, key: str, mapping: dict[str, str]) -> None:
        """Every field of ``mapping`` in one guarded write."""
        await self._call(key, "HSET", *(x for pair in mapping.items() for x in pair))

    async def hincrby(self, key: str, field: str, by: int = 1) -> int:
        return int(await self._call(key, "HINCRBY", field, by))

    async def _call(self, key: str, *args: str | int) -> Any:
        try:
            return await self._script(keys=[self.keys.run_meta, key], args=[self.run_id, *args])
        except ResponseError as exc:
            raise translate(exc, self.keys.run) from None
