"""Where and how a benchmark runs: its Redis, run names, role processes, waiting.

A benchmark starts its own throwaway ``redis-server`` (no persistence) on a free port
unless ``--redis-url`` is given. On a Redis it did not start it never flushes anything:
every run has a unique name and only that run's keys are deleted afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from benchmarks._figures import rate
from common.keys import RunKeys
from tests.processes import Role, python_m, role_env, stop_all
from tests.support import start_redis_server, sync_client, wait_until

LOG_LEVEL = "WARNING"  # of role processes: their output is read only when they fail
ERROR_TAIL = 40  # lines of a failed role's stderr shown


@dataclass
class Target:
    """The Redis a benchmark runs on; ``owned`` when we started it (and may flush it)."""

    url: str
    owned: bool

    def client(self) -> redis.Redis:
        return sync_client(self.url)


def find_redis_server(binary: str | None = None) -> str:
    found = binary or shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(found).exists() and shutil.which(found) is None:
        raise SystemExit("no redis-server binary found: install it or give --redis-url")
    return found


@contextmanager
def redis_target(url: str | None, binary: str | None = None) -> Iterator[Target]:
    """``url`` as is, or a throwaway redis-server (no persistence) stopped on exit."""
    if url:
        yield Target(url, owned=False)
        return
    with throwaway_redis(binary) as target:
        yield target


@contextmanager
def throwaway_redis(binary: str | None = None) -> Iterator[Target]:
    exe = find_redis_server(binary)
    with tempfile.TemporaryDirectory(prefix="sms-bench-redis-", ignore_cleanup_errors=True) as tmp:
        try:
            server = start_redis_server(exe, Path(tmp))
        except RuntimeError as exc:
            raise SystemExit(str(exc)) from None
        try:
            yield Target(server.url, owned=True)
        finally:
            server.stop()


def new_run(prefix: str) -> str:
    """A run name nobody else uses (runs isolate by keys, never by flushing)."""
    return f"bench-{prefix}-{uuid.uuid4().hex[:8]}"


def delete_run(url: str, run: str) -> None:
    """Delete exactly this run's keys."""
    client = sync_client(url)
    try:
        client.delete(*RunKeys(run).all())
    finally:
        client.close()


def meta_int(client: redis.Redis, run: str, fieldname: str) -> int:
    value: Any = client.hget(RunKeys(run).meta, fieldname)
    return int(value or 0)


class Roles:
    """The role processes of one run on one Redis, output in files; all stopped on exit."""

    def __init__(self, url: str, run: str) -> None:
        self.env = role_env(url, run, log_level=LOG_LEVEL)
        self.logs = Path(tempfile.mkdtemp(prefix="sms-bench-logs-"))
        self.started: list[Role] = []

    def __enter__(self) -> Roles:
        return self

    def __exit__(self, *exc: object) -> None:
        stop_all(self.started)
        shutil.rmtree(self.logs, ignore_errors=True)

    def spawn(self, name: str, module: str, args: Sequence[str]) -> Role:
        """Start ``python -m module args``; its output goes to files named after ``name``."""
        role = Role(name, python_m(module, args), self.env, self.logs)
        self.started.append(role)
        return role


def ensure_no_failure(roles: Sequence[Role]) -> None:
    """SystemExit with the stderr tail of the first role that exited non-zero."""
    for role in roles:
        code = role.process.poll()
        if code not in (None, 0):
            raise SystemExit(f"{role.name} exited {code}:\n{role.errors(ERROR_TAIL)}")


def check_exit(role: Role, timeout: float = 30) -> None:
    """Wait for a role to end; SystemExit with its stderr tail unless it exits 0."""
    try:
        code = role.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"{role.name} did not exit within {timeout:.0f} s") from None
    if code != 0:
        raise SystemExit(f"{role.name} exited {code}:\n{role.errors(ERROR_TAIL)}")


def wait_for(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    poll: float = 0.02,
    progress: Callable[[], None] | None = None,
    progress_every: float = 5.0,
    roles: Sequence[Role] = (),
) -> None:
    """Poll ``check`` until true; SystemExit naming ``what`` after ``timeout`` seconds,
    or as soon as one of ``roles`` has failed (exited non-zero)."""
    next_progress = time.monotonic() + progress_every

    def between() -> None:
        nonlocal next_progress
        ensure_no_failure(roles)
        now = time.monotonic()
        if progress is not None and now >= next_progress:
            progress()
            next_progress = now + progress_every

    try:
        wait_until(check, timeout, what, poll, between=between)
    except TimeoutError:
        raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}") from None


def _always() -> bool:
    return True


@dataclass
class CountWatch:
    """Watches a growing count, to measure the steady state: from the moment every
    worker process is up (``ready``) and the count moves, so the processes' start-up
    (Python imports, connecting, one starting later than another) is left out."""

    count: Callable[[], int]
    ready: Callable[[], bool] = _always
    started: float = field(default_factory=time.perf_counter)
    first_at: float | None = None  # when the count first moved
    first_count: int = 0
    ready_at: float | None = None  # when every worker was up
    ready_count: int = 0
    last: int = 0

    def reached(self, target: int) -> bool:
        self.last = self.count()
        now = time.perf_counter()
        if self.first_at is None and self.last > 0:
            self.first_at, self.first_count = now, self.last
        if self.ready_at is None and self.ready():
            self.ready_at, self.ready_count = now, self.last
        return self.last >= target

    def steady_rate(self, target: int, ended: float) -> float:
        """Items per second from the steady state's start to ``target`` at ``ended``:
        the later of the first movement and every worker up (the first movement alone
        when the run was over too soon to tell)."""
        start, count = self.started, 0
        if self.first_at is not None:
            start, count = self.first_at, self.first_count
        if self.ready_at is not None and self.ready_at > start and self.ready_count < target:
            start, count = self.ready_at, self.ready_count
        return rate(target - count, ended - start)
