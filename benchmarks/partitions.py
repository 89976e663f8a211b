"""Scaling out: zero-delay throughput and Redis CPU per delivered message, for a run of 1,
2 and 3 partitions on a throwaway 3-master Redis Cluster, beside a single redis-server.

For each setup N messages are enqueued first (``sms-producer --partitions P``), then K
``sms-sender`` processes (zero delay, ``--concurrency 64``) deliver them; the rate is the
steady state's (from every sender up and deliveries moving, to the last), and Redis CPU
is each server's ``used_cpu_sys + used_cpu_user`` over the same span. Per shard: the CPU
of the busiest master per delivered message, and the share of the messages each master
served, from which the rate a machine with more cores could reach is read: a shard
saturates at about 1 / (its CPU per message) messages per second.

    uv run python benchmarks/partitions.py [--n 200000] [--senders 2]
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from benchmarks._figures import Figure, base_parser, log, report
from benchmarks._runs import new_run
from common.keys import RunKeys
from tests.processes import role_env
from tests.support import ROOT, start_redis_cluster, start_redis_server


@dataclass
class Setup:
    name: str
    partitions: int
    cluster: bool


SETUPS = (
    Setup("single redis-server, 1 partition", 1, cluster=False),
    Setup("cluster of 3, 1 partition", 1, cluster=True),
    Setup("cluster of 3, 2 partitions", 2, cluster=True),
    Setup("cluster of 3, 3 partitions", 3, cluster=True),
)


@dataclass
class Measured:
    rate: float  # delivered messages per second, steady state
    cpu_per_message: float  # microseconds of Redis CPU, all servers together
    busiest_per_message: float  # microseconds, the busiest server's CPU per message
    shares: list[float]  # each server's share of the Redis CPU


@contextmanager
def servers(setup: Setup) -> Iterator[tuple[str, list[int]]]:
    """(URL, ports) of a throwaway single server or 3-master cluster."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("no redis-server binary found")
    folder = Path(tempfile.mkdtemp(prefix="sms-bench-parts-"))
    try:
        if setup.cluster:
            cluster = start_redis_cluster(binary, folder)
            try:
                yield cluster.url, [node.port for node in cluster.nodes]
            finally:
                cluster.stop()
        else:
            server = start_redis_server(binary, folder)
            try:
                yield server.url, [server.port]
            finally:
                server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def cpu(ports: list[int]) -> list[float]:
    used = []
    for port in ports:
        info: Any = redis.Redis(port=port).info("cpu")
        used.append(float(info["used_cpu_sys"]) + float(info["used_cpu_user"]))
    return used


def delivered(ports: list[int], run: str, partitions: int) -> int:
    """Delivered messages of the run, over its partitions (read from every node)."""
    total = 0
    metas = {part.meta for part in RunKeys(run).parts(partitions)}
    for port in ports:
        node = redis.Redis(port=port, decode_responses=True)
        for meta in metas:
            with contextlib.suppress(redis.ResponseError):  # MOVED: on another node
                total += int(node.hget(meta, "delivered") or 0)
    return total


def measure(setup: Setup, n: int, senders: int) -> Measured:
    with servers(setup) as (url, ports):
        run = new_run("parts")
        env = role_env(url, run, log_level="WARNING")
        python = [sys.executable, "-m"]
        produce = [*python, "producer", "--count", str(n), "--max-backlog", "0"]
        subprocess.run(
            [*produce, "--partitions", str(setup.partitions)], cwd=ROOT, env=env, check=True
        )
        sender_args = ["--mean-time", "0", "--failure-rate", "0", "--concurrency", "64"]
        procs = [
            subprocess.Popen(
                [*python, "sender", *sender_args, "--name", f"b{i}"], cwd=ROOT, env=env
            )
            for i in range(senders)
        ]
        try:
            start_count, started, cpu0 = _steady_start(ports, run, setup.partitions, n)
            while (done := delivered(ports, run, setup.partitions)) < n:
                time.sleep(0.02)
            ended, cpu1 = time.perf_counter(), cpu(ports)
        finally:
            for proc in procs:
                proc.wait(timeout=60)
    used = [b - a for a, b in zip(cpu0, cpu1, strict=True)]
    count = done - start_count
    return Measured(
        count / (ended - started),
        1e6 * sum(used) / count,
        1e6 * max(used) / count,
        [u / sum(used) for u in used],
    )


def _steady_start(
    ports: list[int], run: str, partitions: int, n: int
) -> tuple[int, float, list[float]]:
    """Once deliveries move and a tenth are done: (count, time, Redis CPU) then."""
    while (count := delivered(ports, run, partitions)) < n // 10:
        time.sleep(0.01)
    return count, time.perf_counter(), cpu(ports)


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--senders", type=int, default=2)
    args = parser.parse_args(argv)
    figures = []
    for setup in SETUPS:
        log(f"{setup.name}: {args.n:,} messages, {args.senders} senders")
        got = measure(setup, args.n, args.senders)
        shares = " / ".join(f"{s:.0%}" for s in got.shares)
        log(f"   {got.rate:,.0f} msg/s, Redis {got.cpu_per_message:.1f} us/msg ({shares})")
        figures.append(
            Figure(
                setup.name,
                f"{got.rate:,.0f} msg/s; Redis CPU {got.cpu_per_message:.1f} us/msg in all, "
                f"busiest server {got.busiest_per_message:.1f} us/msg; CPU shares {shares}",
                value=got.rate,
            )
        )
    report("scaling out (zero delay)", figures, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
