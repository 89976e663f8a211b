"""The machine a benchmark ran on, and its speed right now by the issue's yardstick."""

from __future__ import annotations

import os
import platform
import subprocess
import time
import uuid
from pathlib import Path

from benchmarks._figures import rate
from benchmarks._runs import find_redis_server, redis_target

REFERENCE_N = 100_000
REFERENCE_QUOTED = 200_000  # what the issue quotes for this machine kind (msg/s)


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
