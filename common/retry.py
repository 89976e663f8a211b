"""Riding out Redis outages: capped exponential backoff, one warning per outage.

An outage is Redis unreachable, loading, or out of memory (maxmemory reached: every
write of this project is refused whole then, so retrying it is safe)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    MasterDownError,
    OutOfMemoryError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

T = TypeVar("T")
TRANSIENT = (
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
    OutOfMemoryError,
    ClusterDownError,  # a cluster failing over, or a master restarting
    MasterDownError,
    TryAgainError,
    ConnectionError,
    OSError,
)


# Where redis-py writes a command to its socket.
_WRITES = ("send_packed_command", "_send_packed_command")
_CONNECTION = os.path.join("redis", "asyncio", "connection.py")


def transient(exc: BaseException) -> bool:
    """Is ``exc`` Redis being away for a while (an outage to ride out)?"""
    return isinstance(exc, TRANSIENT) or _write_on_closed_connection(exc)


def _write_on_closed_connection(exc: BaseException) -> bool:
    """redis-py leaks an AttributeError or TypeError (``'NoneType' object has no
    attribute 'writelines'``), not a ConnectionError, when a connection is closed under a
    command being written: by a peer's reset, or by a cluster client dropping its
    connections in a failover (redis/redis-py#4287). Only errors raised inside its socket
    write count: the command was packed before, so bad arguments never raise there."""
    if not isinstance(exc, AttributeError | TypeError):
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    return any(f.name in _WRITES and f.filename.endswith(_CONNECTION) for f in frames)


# Commands that only read: Redis serves them when it is out of memory.
READS = frozenset(
    {"XREAD", "XREADGROUP", "XRANGE", "XREVRANGE", "XPENDING", "XINFO", "XLEN", "HGET",
     "HMGET", "HGETALL", "HEXISTS", "GET", "GETRANGE", "GETBIT", "EXISTS", "TYPE", "PING",
     "INFO", "TIME", "SCAN", "DUMP", "TTL", "PTTL", "EVALSHA_RO", "EVAL_RO"}
)  # fmt: skip


# Seconds beyond ``give_up`` a command may take before it counts as unanswered: a blocking
# read waits up to its BLOCK (a few seconds at most) for an answer that is on its way.
BLOCKING_ALLOWANCE = 5.0
SILENT = 5.0  # seconds a command may go unanswered before the outage is said


class Outage:
    """Retries a Redis operation while Redis is away, for up to ``give_up`` seconds.

    Before the first success nothing is retried: a Redis unreachable at start is an
    error to report at once, not an outage to ride out.

    An outage starts when the first command that failed was sent, not when its failure
    surfaced (a Redis cut off the network answers nothing: a command fails only when its
    socket times out), and every command sent during an outage may take what remains of
    ``give_up``: so a role gives up ``give_up`` seconds after Redis stopped answering,
    whatever it was doing.
    """

    def __init__(self, what: str, give_up: float = 60.0, cap: float = 2.0) -> None:
        self.what = what
        self.give_up = give_up
        self.cap = cap
        self._since: float | None = None
        self._cause: BaseException | None = None  # what began the current outage
        self._gave_up = False
        self._full = False  # the outage is Redis out of memory: only a write ends it
        self._connected = False
        self.problem = ""  # what the current outage is, for the heartbeat ("" when none)

    async def call(
        self, op: Callable[[], Awaitable[T]], command: str = "", blocking: bool = False
    ) -> T:
        """``op`` (the Redis ``command``; ``blocking``: a read that waits for entries),
        retried through an outage. Out of memory, Redis still serves reads: only a command
        that may write ends that outage, so a role that keeps reading while it cannot
        write gives up after ``give_up`` all the same."""
        delay = 0.05
        loop = asyncio.get_running_loop()
        while True:
            sent = time.monotonic()
            silent = SILENT + (BLOCKING_ALLOWANCE if blocking else 0.0)
            slow = loop.call_later(silent, self._slow, sent) if self._connected else None
            try:
                async with asyncio.timeout(self._budget(sent, blocking)):
                    result = await op()
            except Exception as exc:
                if not transient(exc) or not self._connected:
                    raise
                if self._given_up(exc, sent):
                    raise _unanswered(self._cause or exc, self.give_up) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.cap)
                continue
            finally:
                if slow is not None:
                    slow.cancel()
            self._connected = True
            if not (self._full and command.upper() in READS):
                self._recovered()
            return result

    def _budget(self, sent: float, blocking: bool) -> float | None:
        """How long a command sent at ``sent`` may take: ``give_up`` (a blocking read:
        and its allowance), or in an outage what remains of it (None: no bound before the
        first success, where the first contact's own bound applies)."""
        if not self._connected:
            return None
        allowance = BLOCKING_ALLOWANCE if blocking else 0.0
        since = sent if self._since is None else self._since
        return max(since + self.give_up + allowance - sent, 0.001)

    def _slow(self, sent: float) -> None:
        """A command unanswered for ``SILENT`` s (a Redis cut off the network: it fails
        only at its socket timeout): the outage starts now, said at once."""
        if self._since is None:
            self._since = sent
            self.problem = "Redis unavailable"
            logger.warning(
                "%s: Redis has not answered for %.0f s; waiting (gives up after %g s)",
                self.what,
                time.monotonic() - sent,
                self.give_up,
            )

    def _given_up(self, exc: BaseException, sent: float) -> bool:
        """Note the outage (one warning at its start); True once it lasted ``give_up``."""
        now = time.monotonic()
        if self._cause is None:
            self._cause = exc
        if self._since is None:
            self._since, self._cause = sent, exc
            self._full = isinstance(exc, OutOfMemoryError)
            self.problem = _describe(exc)
            detail = str(exc) or "no answer"
            if now - sent >= 1:
                detail += f"; the command was sent {now - sent:.0f} s ago"
            logger.warning("%s: %s (%s); retrying", self.what, self.problem, detail)
        if now - self._since >= self.give_up:
            if not self._gave_up:  # once, however many commands were waiting
                logger.error(
                    "%s: %s for over %.0f s: giving up", self.what, self.problem, self.give_up
                )
                self._gave_up = True
            return True
        return False

    def _recovered(self) -> None:
        if self._since is not None:
            logger.info("%s: Redis is back after %.1f s", self.what, time.monotonic() - self._since)
            self._since, self._cause = None, None
            self.problem = ""


def _unanswered(exc: BaseException, give_up: float) -> BaseException:
    """The error a role ends with: the one that began the outage (out of memory, a lost
    connection), or, when that was a command we stopped waiting for, a Redis timeout
    saying so."""
    if type(exc) is TimeoutError:
        return RedisTimeoutError(f"Redis did not answer for {give_up:g} s (REDIS_GIVE_UP)")
    return exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OutOfMemoryError):
        return "Redis is out of memory (maxmemory reached)"
    if isinstance(exc, BusyLoadingError):
        return "Redis is loading its data"
    return "Redis unavailable"
