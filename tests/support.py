"""What tests and benchmarks share: a throwaway redis-server, free ports, waiting with a
deadline, stopping a process, a synchronous client. Role processes: ``tests.processes``."""

from __future__ import annotations

import contextlib
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    poll: float = 0.05,
    *,
    between: Callable[[], None] | None = None,
) -> None:
    """Poll ``check`` until true; TimeoutError naming ``what`` after ``timeout`` seconds.

    ``between`` runs before each wait (to give up early by raising, or report progress)."""
    deadline = time.monotonic() + timeout
    while not check():
        if between is not None:
            between()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(poll)


def stop_process(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def sync_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=30)


@dataclass
class RedisServer:
    """A redis-server on 127.0.0.1 without persistence (``extra`` arguments may add some)."""

    binary: str
    port: int
    data_dir: Path
    extra: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        """Start it and wait until it answers PING; RuntimeError if it does not."""
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.data_dir), "--save", "", "--appendonly", "no", *self.extra]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.process = process
        with contextlib.suppress(TimeoutError):  # judged just below
            wait_until(lambda: process.poll() is not None or self._accepts(), timeout, "PONG")
        if process.poll() is not None or not self._accepts():
            self.stop()
            raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def start_redis_server(binary: str, data_dir: Path, extra: list[str] | None = None) -> RedisServer:
    """A started redis-server on a free port."""
    server = RedisServer(binary, free_port(), data_dir, extra or [])
    server.start()
    return server


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too, below 65536."""
    for _ in range(200):
        port = random.randint(20_000, 50_000)
        try:
            for candidate in (port, port + 10_000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


@dataclass
class RedisCluster:
    """A throwaway Redis Cluster of ``masters`` redis-servers (no replicas) on free ports,
    made with ``redis-cli --cluster create``; ``url`` names it for the roles."""

    binary: str
    data_dir: Path
    masters: int = 3
    extra: list[str] = field(default_factory=list)
    nodes: list[RedisServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}/0"

    def start(self, timeout: float = 20) -> None:
        for _ in range(self.masters):
            port = free_cluster_port()
            folder = self.data_dir / str(port)
            folder.mkdir(parents=True, exist_ok=True)
            options = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            node = RedisServer(self.binary, port, folder, [*options, *self.extra])
            node.start()
            self.nodes.append(node)
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        cli = str(Path(self.binary).with_name("redis-cli"))
        subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-yes"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._ok, timeout, "cluster_state:ok on every node")

    def _ok(self) -> bool:
        for node in self.nodes:
            try:
                info = str(redis.Redis(port=node.port).execute_command("CLUSTER", "INFO"))  # type: ignore[no-untyped-call]
            except redis.RedisError:
                return False
            if "cluster_state:ok" not in info:
                return False
        return True

    def restart(self, index: int) -> None:
        """Stop one master and start it again on the same port (with whatever persistence
        ``extra`` gives it), then wait for the cluster to be whole."""
        node = self.nodes[index]
        node.stop()
        node.start()
        wait_until(self._ok, 30, "the cluster back in order")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def start_redis_cluster(
    binary: str, data_dir: Path, masters: int = 3, extra: list[str] | None = None
) -> RedisCluster:
    cluster = RedisCluster(binary, data_dir, masters, extra or [])
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster
