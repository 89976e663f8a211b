"""Redis clients for a ``RedisTarget``: a real server from a URL, or the embedded
in-memory one (fakeredis)."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

from redis import exceptions as rx
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.clock import CLOCK
from common.errors import (
    RedisRefused,
    RedisUnavailable,
    RunMissing,
    TargetRefused,
    UsageProblem,
    translate,
)
from common.integrity import EVICTING, explain
from common.keys import RunKeys
from common.retry import Outage
from common.target import RedisTarget, mask_url, plain_url

logger = logging.getLogger(__name__)

# Blocking reads stay well under this (see DESIGN.md, known pitfalls).
SOCKET_TIMEOUT = 10.0
MIN_REDIS = (6, 2)
FIRST_CONTACT = 6.0  # seconds the first command may take before Redis counts as unreachable


class ResilientRedis(Redis):
    """A client that rides out Redis outages: every command is retried with capped
    exponential backoff, with one warning per outage and one line on recovery; after
    ``Outage.give_up`` seconds the error propagates (exit 1)."""

    outage: Outage

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        run = Redis.execute_command
        op = lambda: run(self, *args, **options)  # type: ignore[no-untyped-call]  # noqa: E731
        return await self.outage.call(op, str(args[0]) if args else "", _blocking(args))


class ResilientRedisCluster(RedisCluster):
    """``ResilientRedis`` for a Redis Cluster: redis-py follows MOVED/ASK and refreshes the
    cluster's map itself; a failover's errors are ridden out like an outage."""

    outage: Outage

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        run = RedisCluster.execute_command
        return await self.outage.call(
            lambda: run(self, *args, **options), str(args[0]) if args else "", _blocking(args)
        )


def _blocking(args: tuple[Any, ...]) -> bool:
    """Is this command a read that waits (XREAD/XREADGROUP ... BLOCK ms)?"""
    return "BLOCK" in args or b"BLOCK" in args


def connect(url: str, what: str = "redis", give_up: float = 60.0) -> Redis:
    """An asyncio client for ``url`` (hiredis parser when installed) that survives outages;
    for a cluster URL (``redis+cluster://``) a cluster client, as a ``Redis`` to its users
    (every command of this project names keys of one slot)."""
    if RedisTarget(url).cluster:
        return _connect_cluster(url, what, give_up)
    client = ResilientRedis.from_url(
        url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=5.0,
        retry=Retry(ExponentialWithJitterBackoff(cap=1.0, base=0.05), 1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=0,  # a dead connection fails its command, which is retried
    )
    outage = Outage(f"{what} ({mask_url(url)})", give_up=give_up)
    client.outage = outage  # type: ignore[attr-defined]
    return client


def _connect_cluster(url: str, what: str, give_up: float) -> Redis:
    client: ResilientRedisCluster = ResilientRedisCluster.from_url(  # type: ignore[assignment]
        plain_url(url),
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=5.0,
        retry=Retry(ExponentialWithJitterBackoff(cap=1.0, base=0.05), 1),
    )
    client.outage = Outage(f"{what} ({mask_url(url)})", give_up=give_up)
    return cast(Redis, client)


class EmbeddedRedis:
    """One in-process Redis server; every client made from it sees the same data."""

    def __init__(self) -> None:
        try:
            import fakeredis  # noqa: PLC0415 (only sms-sim run needs it: quick role start-up)
        except ImportError:
            raise UsageProblem(
                "no Redis named and no redis-server installed, and the embedded Redis is not "
                "installed either: give --redis-url URL (or set REDIS_URL), install "
                "redis-server, or install sms-sim[embedded]"
            ) from None

        self._fakeredis = fakeredis
        self.server = fakeredis.FakeServer(version=(7, 0))

    def client(self) -> Redis:
        client: Redis = self._fakeredis.FakeAsyncRedis(server=self.server, decode_responses=True)
        return client


def _raw_reply(response: Any, **options: Any) -> Any:
    return response


RAW_COMMANDS = ("XREAD", "XREADGROUP", "XCLAIM", "XRANGE")


def raw_streams(client: Redis) -> Redis:
    """A client sharing ``client``'s connections whose stream-reading replies stay raw:
    entries keep their flat ``[field, value, ...]`` lists, no dict per entry. Hot paths
    parse those themselves; ``client`` itself is left as it was. A cluster client applies
    replies' callbacks on each node, out of a clone's reach: it is returned as it is (its
    replies are flattened by ``flat_entries``)."""
    if isinstance(client, RedisCluster):
        return client
    clone = copy.copy(client)
    clone.response_callbacks = copy.copy(client.response_callbacks)
    for command in RAW_COMMANDS:
        clone.set_response_callback(command, _raw_reply)
    return clone


def stream_entries(reply: Any) -> list[Any]:
    """The entries of a raw one-stream XREAD/XREADGROUP reply (``{key: entries}`` in
    RESP3, ``[[key, entries]]`` in RESP2), each ``[id, [field, value, ...] or None]``."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return flat_entries(next(iter(reply.values())))
    return flat_entries(reply[0][1])


def flat_entries(entries: Any) -> list[Any]:
    """Entries with flat field lists. A cluster client parses replies on each node (the
    raw clone's callbacks do not reach them): its fields come as dicts, flattened here."""
    listed: list[Any] = list(entries)
    if not listed or not isinstance(listed[0][1], dict):
        return listed
    return [
        (eid, [x for pair in fields.items() for x in pair] if fields is not None else None)
        for eid, fields in listed
    ]


async def check_server(client: Redis, target: RedisTarget) -> None:
    """Fail early, with the masked URL and one line, when the server cannot serve us:
    unreachable, not Redis, refusing us, or older than 6.2."""
    if target.embedded:
        return  # the embedded server is always there and speaks Redis 7
    try:
        info = await asyncio.wait_for(client.info("server"), FIRST_CONTACT)
    except rx.NoPermissionError:
        logger.debug("INFO is not permitted: Redis version not checked")
        return
    except rx.AuthenticationError as exc:
        raise _at(translate(exc), target) from None
    except (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError) as exc:
        why = str(exc) or f"no answer within {FIRST_CONTACT:g} s"
        hint = _tls_hint(target, why)
        raise RedisUnavailable(f"cannot reach Redis at {target.display}: {why}{hint}") from None
    except rx.RedisError as exc:
        raise _at(translate(exc), target) from None
    version = str(info.get("redis_version", "0"))
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < MIN_REDIS:
        raise RedisUnavailable(
            f"Redis at {target.display} is version {version}; 6.2 or newer is needed"
        )
    if not target.allow_eviction:
        await _refuse_eviction(client, target)


def _tls_hint(target: RedisTarget, why: str) -> str:
    """What a failed first contact likely means about TLS, or ""."""
    if target.tls and "certificate verify failed" in why.lower():
        return (
            " (the server's TLS certificate is not trusted here: pass the CA that signed it "
            "with ?ssl_ca_certs=/path/to/ca.pem in the URL, and connect by a name or "
            "address the certificate holds)"
        )
    if target.tls:
        return " (rediss:// means TLS: does the server speak TLS on this port?)"
    if "reset by peer" in why or "closed by server" in why.lower():
        return " (a server that speaks only TLS resets plain connections: try rediss://)"
    return ""


async def _refuse_eviction(client: Redis, target: RedisTarget) -> None:
    """UsageProblem when the server's maxmemory-policy may evict a run's keys (they have
    no TTL, so only the allkeys-* policies can): a run would lose messages or count them
    twice, silently. REDIS_ALLOW_EVICTION=1 serves it anyway."""
    try:
        memory = await asyncio.wait_for(client.info("memory"), FIRST_CONTACT)
    except rx.RedisError:
        logger.debug("INFO memory is not permitted: the eviction policy is not checked")
        return
    nodes = memory.values() if all(isinstance(v, dict) for v in memory.values()) else [memory]
    for node in nodes:
        policy = str(node.get("maxmemory_policy", "noeviction"))
        if policy.startswith(EVICTING):
            raise UsageProblem(
                f"Redis at {target.display} evicts keys (maxmemory-policy {policy}): a run's "
                "keys could vanish mid-run, losing messages or counting them twice; set "
                "maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction), or "
                "set REDIS_ALLOW_EVICTION=1 to run there at that risk"
            )


def _at(exc: BaseException, target: RedisTarget) -> BaseException:
    """``exc`` with the server named, when it is one of ours."""
    if isinstance(exc, RedisUnavailable | RedisRefused | TargetRefused):
        return type(exc)(f"Redis at {target.display}: {exc}")
    return exc


@asynccontextmanager
async def clients(
    target: RedisTarget, what: str = "redis", run: str | None = None
) -> AsyncIterator[Callable[[], Redis]]:
    """Make clients for ``target`` (the server checked first); all closed on exit. With
    ``run``: a failure because the run's keys are gone says why, where Redis can tell
    (``common.integrity``)."""
    embedded = EmbeddedRedis() if target.embedded else None
    made: list[Redis] = []

    def make() -> Redis:
        client = embedded.client() if embedded else connect(target.url or "", what, target.give_up)
        made.append(client)
        return client

    try:
        first = make()
        await check_server(first, target)
        await CLOCK.sync(first)
        yield make
    except Exception as exc:
        error = translate(exc, run)
        if run is None or not isinstance(error, RunMissing):
            raise
        raise await explain(made[0], RunKeys(run), error) from None
    finally:
        for client in made:
            await client.aclose()


@asynccontextmanager
async def client_for(
    target: RedisTarget, what: str = "redis", run: str | None = None
) -> AsyncIterator[Redis]:
    """One checked client for ``target``, closed on exit (``run``: as ``clients``)."""
    async with clients(target, what, run) as make:
        yield make()
