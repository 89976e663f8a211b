"""Test helpers: a throwaway redis-server, role processes, waiting with a deadline."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    binary: str
    port: int
    data_dir: Path
    extra: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--save",
            "",
            "--appendonly",
            "no",
            *self.extra,
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._accepts, timeout=10, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def start_redis_server(binary: str, data_dir: Path, extra: list[str] | None = None) -> RedisServer:
    server = RedisServer(binary, free_port(), data_dir, extra or [])
    server.start()
    return server


def wait_until(check: Callable[[], bool], timeout: float, what: str, poll: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(poll)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def role_env(redis_url: str, run: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a role process: this Redis and run, no stray settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SENDER_", "PRODUCER_", "MONITOR_", "SMS_"))
    }
    env.update({"REDIS_URL": redis_url, "SMS_RUN": run, "LOG_LEVEL": "INFO"})
    env.update(extra or {})
    return env


def spawn(
    module: str, args: list[str], env: Mapping[str, str], cwd: Path | None = None
) -> subprocess.Popen[str]:
    """Start ``python -m module args`` (a role) as its own OS process."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env=dict(env),
        cwd=cwd or ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
