"""What every benchmark shares: a Redis to run on, run names, role processes, reporting.

A benchmark starts its own throwaway ``redis-server`` (no persistence) on a free port
unless ``--redis-url`` is given. On a Redis it did not start it never flushes anything:
every run has a unique name and only that run's keys are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import redis

from common.keys import RunKeys

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


# --------------------------------------------------------------------------- figures


@dataclass
class Figure:
    """One measured figure; ``passed`` is None when the figure has no target."""

    name: str
    measured: str
    target: str = "-"
    passed: bool | None = None
    value: float | None = None
    notes: str = ""

    @property
    def verdict(self) -> str:
        if self.passed is None:
            return "info"
        return "pass" if self.passed else "FAIL"


def rate(n: float, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def fmt_rate(value: float) -> str:
    return f"{value:,.0f} msg/s"


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO | None = None
) -> None:
    """A plain, aligned text table."""
    out = out or sys.stdout
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line, file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)), file=out)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def esc(cell: str) -> str:
        return str(cell).replace("|", "\\|")

    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


FIGURE_HEADERS = ("figure", "target", "measured", "pass/fail")


def figure_rows(figures: Sequence[Figure]) -> list[list[str]]:
    return [[f.name, f.target, f.measured, f.verdict] for f in figures]


def report(title: str, figures: Sequence[Figure], args: argparse.Namespace) -> None:
    """Print the figures as a table (markdown with ``--markdown``); save them for run_all."""
    print()
    print(f"== {title}")
    if args.markdown:
        print(markdown_table(FIGURE_HEADERS, figure_rows(figures)))
    else:
        print_table(FIGURE_HEADERS, figure_rows(figures))
    for f in figures:
        if f.notes:
            print(f"   {f.name}: {f.notes}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps([asdict(f) for f in figures], indent=1))


def load_figures(path: Path) -> list[Figure]:
    return [Figure(**item) for item in json.loads(path.read_text())]


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--redis-url",
        default=None,
        help="benchmark on this Redis (default: start a throwaway redis-server on a free port)",
    )
    parser.add_argument(
        "--redis-server",
        default=None,
        help="redis-server binary for the throwaway server (default: from PATH)",
    )
    parser.add_argument("--markdown", action="store_true", help="print the figures as markdown")
    parser.add_argument("--json-out", default=None, help=argparse.SUPPRESS)  # used by run_all
    return parser


def log(message: str) -> None:
    """Progress, on stderr, with a timestamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Target:
    """The Redis a benchmark runs on; ``owned`` when we started it (and may flush it)."""

    url: str
    owned: bool
    process: subprocess.Popen[bytes] | None = None
    data_dir: Path | None = None

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
    data_dir = Path(tempfile.mkdtemp(prefix="sms-bench-redis-"))
    port = free_port()
    args = [
        exe,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not _accepts(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield Target(f"redis://127.0.0.1:{port}/0", True, process, data_dir)
    finally:
        stop_process(process)
        shutil.rmtree(data_dir, ignore_errors=True)


def sync_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=30)


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


def info_memory(client: redis.Redis) -> dict[str, Any]:
    info: dict[str, Any] = client.info("memory")
    return info


def used_memory(client: redis.Redis) -> int:
    return int(info_memory(client)["used_memory"])


def used_memory_peak(client: redis.Redis) -> int:
    return int(info_memory(client)["used_memory_peak"])


def meta_int(client: redis.Redis, run: str, fieldname: str) -> int:
    value: Any = client.hget(RunKeys(run).meta, fieldname)
    return int(value or 0)


def server_version(client: redis.Redis) -> str:
    info: dict[str, Any] = client.info("server")
    return str(info.get("redis_version", "?"))


# --------------------------------------------------------------------------- processes


def role_env(url: str, run: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a role process: this Redis and run, no stray role settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SENDER_", "PRODUCER_", "MONITOR_", "SMS_", "REDIS_URL"))
    }
    env.update({"REDIS_URL": url, "SMS_RUN": run, "LOG_LEVEL": "WARNING"})
    env.update(extra or {})
    return env


@dataclass
class Role:
    """A role process whose stdout and stderr go to files (read them after it ends)."""

    name: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    started: float = field(default_factory=time.monotonic)

    def output(self) -> str:
        return self.stdout.read_text(errors="replace")

    def errors(self, tail: int = 40) -> str:
        lines = self.stderr.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:])


class Roles:
    """Role processes started by a benchmark; all stopped (TERM, then KILL) on exit."""

    def __init__(self) -> None:
        self.logs = Path(tempfile.mkdtemp(prefix="sms-bench-logs-"))
        self.started: list[Role] = []

    def __enter__(self) -> Roles:
        return self

    def __exit__(self, *exc: object) -> None:
        for role in self.started:
            stop_process(role.process)
        shutil.rmtree(self.logs, ignore_errors=True)

    def spawn(self, name: str, module: str, args: Sequence[str], env: Mapping[str, str]) -> Role:
        out = self.logs / f"{name}.out"
        err = self.logs / f"{name}.err"
        with out.open("wb") as fout, err.open("wb") as ferr:
            process = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                env=dict(env),
                cwd=ROOT,
                stdout=fout,
                stderr=ferr,
            )
        role = Role(name, process, out, err)
        self.started.append(role)
        return role


def stop_process(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
    deadline = time.monotonic() + timeout
    next_progress = time.monotonic() + progress_every
    while not check():
        ensure_no_failure(roles)
        now = time.monotonic()
        if now > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        if progress is not None and now >= next_progress:
            progress()
            next_progress = now + progress_every
        time.sleep(poll)


def ensure_no_failure(roles: Sequence[Role]) -> None:
    """SystemExit with the stderr tail of the first role that exited non-zero."""
    for role in roles:
        code = role.process.poll()
        if code not in (None, 0):
            raise SystemExit(f"{role.name} exited {code}:\n{role.errors()}")


def check_exit(role: Role, timeout: float = 30) -> None:
    """Wait for a role to end; SystemExit with its stderr tail unless it exits 0."""
    try:
        code = role.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"{role.name} did not exit within {timeout:.0f} s") from None
    if code != 0:
        raise SystemExit(f"{role.name} exited {code}:\n{role.errors()}")


# --------------------------------------------------------------------------- machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def redis_server_version(binary: str | None = None) -> str:
    try:
        exe = find_redis_server(binary)
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    except (SystemExit, OSError):
        return "?"
    for part in out.stdout.split():
        if part.startswith("v="):
            return part[2:]
    return out.stdout.strip() or "?"


def machine() -> dict[str, str]:
    return {
        "nproc": str(os.cpu_count() or "?"),
        "cpu": cpu_model(),
        "memory": _mem_total(),
        "python": platform.python_version(),
        "redis-server": redis_server_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def _mem_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
    except (OSError, ValueError, IndexError):
        pass
    return "?"


# ------------------------------------------------------------------------- reference

REFERENCE_N = 100_000
REFERENCE_QUOTED = 200_000  # what the issue quotes for this machine kind (msg/s)


def reference_xadd_rate(url: str | None = None, n: int = REFERENCE_N) -> float:
    """The machine's speed right now, by the yardstick the issue quotes: redis-py (sync,
    hiredis) pipelining XADDs of one small field, in chunks of 1000, on a throwaway
    redis-server (or ``url``). This VM's speed drifts by tens of percent over an hour, so
    a figure means most beside this one measured at the same time."""
    with redis_target(url) as target:
        client = target.client()
        key = f"bench-reference-{uuid.uuid4().hex[:8]}"
        try:
            started = time.perf_counter()
            for start in range(0, n, 1000):
                pipe = client.pipeline(transaction=False)
                for i in range(start, min(start + 1000, n)):
                    pipe.xadd(key, {"i": i})
                pipe.execute()
            return rate(n, time.perf_counter() - started)
        finally:
            client.delete(key)
            client.close()
