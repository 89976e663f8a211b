"""Redis clients: a real server from a URL, or the embedded in-memory one (fakeredis)."""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.retry import Outage

logger = logging.getLogger(__name__)

EMBEDDED = "embedded://"
# Blocking reads stay well under this (see DESIGN.md, known pitfalls).
SOCKET_TIMEOUT = 10.0
MIN_REDIS = (6, 2)


class RedisUnavailable(Exception):
    """Redis cannot be reached (or is too old); the message names the masked URL."""


def mask_url(url: str | None) -> str:
    """The URL with any password replaced by ``***``."""
    if not url:
        return EMBEDDED
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{user}:***@{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class ResilientRedis(Redis):
    """A client that rides out Redis outages: every command is retried with capped
    exponential backoff, with one warning per outage and one line on recovery; after
    ``Outage.give_up`` seconds the error propagates (exit 1)."""

    outage: Outage

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        run = Redis.execute_command
        return await self.outage.call(lambda: run(self, *args, **options))  # type: ignore[no-untyped-call]


def connect(url: str, what: str = "redis", give_up: float = 60.0) -> Redis:
    """An asyncio client for ``url`` (hiredis parser when installed) that survives outages."""
    client = ResilientRedis.from_url(
        url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=5.0,
        retry=Retry(ExponentialWithJitterBackoff(cap=1.0, base=0.05), 2),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=15,
    )
    outage = Outage(f"{what} ({mask_url(url)})", give_up=give_up)
    client.outage = outage  # type: ignore[attr-defined]
    return client


class EmbeddedRedis:
    """One in-process Redis server; every client made from it sees the same data."""

    def __init__(self) -> None:
        import fakeredis  # noqa: PLC0415 (only sms-sim run needs it: keeps role start-up fast)

        self._fakeredis = fakeredis
        self.server = fakeredis.FakeServer(version=(7, 0))

    def client(self) -> Redis:
        client: Redis = self._fakeredis.FakeAsyncRedis(server=self.server, decode_responses=True)
        return client


def _raw_reply(response: Any, **options: Any) -> Any:
    return response


def raw_streams(client: Redis) -> Redis:
    """A client sharing ``client``'s connections whose XREAD and XREADGROUP replies stay
    raw: entries keep their flat ``[field, value, ...]`` lists, no dict per entry. Hot
    paths parse those themselves; ``client`` itself is left as it was."""
    clone = copy.copy(client)
    clone.response_callbacks = copy.copy(client.response_callbacks)
    for command in ("XREAD", "XREADGROUP"):
        clone.set_response_callback(command, _raw_reply)
    return clone


def stream_entries(reply: Any) -> list[Any]:
    """The entries of a raw one-stream XREAD/XREADGROUP reply (``{key: entries}`` in
    RESP3, ``[[key, entries]]`` in RESP2), each ``[id, [field, value, ...] or None]``."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return list(next(iter(reply.values())))
    return list(reply[0][1])


async def check_server(client: Redis, url: str | None) -> None:
    """Fail early, with the masked URL, when Redis is unreachable or older than 6.2."""
    if url is None:
        return  # the embedded server is always there and speaks Redis 7
    try:
        info = await client.info("server")
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise RedisUnavailable(f"cannot reach Redis at {mask_url(url)}: {exc}") from None
    version = str(info.get("redis_version", "0"))
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < MIN_REDIS:
        raise RedisUnavailable(
            f"Redis at {mask_url(url)} is version {version}; 6.2 or newer is needed (XAUTOCLAIM)"
        )


@asynccontextmanager
async def server_client(url: str, what: str = "redis") -> AsyncIterator[Redis]:
    """A checked client for a real server, closed on exit."""
    client = connect(url, what)
    try:
        await check_server(client, url)
        yield client
    finally:
        await client.aclose()
