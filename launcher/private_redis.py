"""The Redis of ``sms-sim run`` when no server is named: a private ``redis-server`` when one
is installed (a unix socket in a temporary directory, no persistence, stopped at the end),
else the in-process fakeredis.

The server runs in a session of its own, so a Ctrl-C sent to the terminal's process group
does not kill it under the roles' graceful stop, and behind a watchdog shell that stops
it when ``sms-sim run`` ends however it ends (even SIGKILL): the shell waits for the end
of its standard input, a pipe only ``sms-sim run`` holds.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from common.errors import RedisUnavailable
from common.target import RedisTarget

logger = logging.getLogger(__name__)

PRIVATE = "private redis-server (unix socket, no persistence)"
START_WITHIN = 10.0  # seconds
# Start the server in the background; stop it when standard input ends.
WATCHDOG = 'bin=$1; shift; "$bin" "$@" & pid=$!; cat >/dev/null; kill "$pid"; wait "$pid"'


def server_binary() -> str | None:
    return shutil.which("redis-server")


@contextlib.contextmanager
def private_target(give_up: float) -> Iterator[RedisTarget]:
    """A private redis-server's target while the block runs; the embedded fakeredis's
    when no redis-server is installed."""
    binary = server_binary()
    if binary is None:
        yield RedisTarget.for_launcher(None, give_up)
        return
    with tempfile.TemporaryDirectory(prefix="sms-sim-redis-", ignore_cleanup_errors=True) as tmp:
        sock = Path(tmp) / "redis.sock"
        watchdog = _start(binary, Path(tmp), sock)
        try:
            _wait_ready(sock, watchdog, Path(tmp) / "redis.log")
            yield RedisTarget(f"unix://{sock}", give_up, label=PRIVATE)
        finally:
            _stop(watchdog)


def _start(binary: str, tmp: Path, sock: Path) -> subprocess.Popen[bytes]:
    args = ["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"]
    args += ["--save", "", "--appendonly", "no", "--dir", str(tmp), "--daemonize", "no"]
    args += ["--maxmemory-policy", "noeviction", "--logfile", str(tmp / "redis.log")]
    return subprocess.Popen(
        ["sh", "-c", WATCHDOG, "redis-watchdog", binary, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_ready(sock: Path, watchdog: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_WITHIN
    while time.monotonic() < deadline:
        if watchdog.poll() is not None:
            break
        if _pong(sock):
            return
        time.sleep(0.01)
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
    why = f": {tail[0]}" if tail else ""
    raise RedisUnavailable(f"the private redis-server did not start{why}")


def _pong(sock: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(0.5)
            conn.connect(str(sock))
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _stop(watchdog: subprocess.Popen[bytes]) -> None:
    """End the watchdog's input: it stops the server and waits for it."""
    with contextlib.suppress(OSError):
        if watchdog.stdin is not None:
            watchdog.stdin.close()
    try:
        watchdog.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            watchdog.kill()
