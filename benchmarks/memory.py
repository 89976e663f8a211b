"""Redis memory of a whole run: used_memory_peak and bytes per message, per N.

For each N, on a FRESH throwaway redis-server (so the peak belongs to that run): the
``sms-producer`` process (default backlog cap 10000), K ``sms-sender`` processes
(``--concurrency 64``, zero delay, no failures) and one ``sms-monitor`` process (plain,
report period 1 s; it trims the results stream behind its checkpoint unless
--keep-results) run to completion. Prints INFO memory ``used_memory_peak`` in MB,
peak / N in bytes per message, and ``used_memory`` at the end.

    uv run python benchmarks/memory.py [--n 100000 1000000] [--with-10m] [--senders 2]

With ``--redis-url`` the server is shared: used_memory_peak is then that server's
lifetime peak, so the sampled peak of used_memory during the run is reported too.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Any

import redis

from benchmarks._figures import Figure, base_parser, log, report
from benchmarks._runs import (
    Roles,
    check_exit,
    delete_run,
    meta_int,
    new_run,
    redis_target,
    wait_for,
)
from common import keys as k
from common.keys import RunKeys
from tests.support import sync_client

MB = 1024 * 1024
TARGET_1M_MB = 64
NOISE = 0.10  # the 10M peak may exceed the 1M peak by this share and still pass
SAMPLE_EVERY = 0.1


def info_memory(client: redis.Redis) -> dict[str, Any]:
    info: dict[str, Any] = client.info("memory")
    return info


@dataclass
class MemoryRun:
    n: int
    seconds: float
    baseline: int  # used_memory before the run
    peak: int  # INFO used_memory_peak after the run
    sampled_peak: int  # highest used_memory seen while polling
    end: int  # used_memory after the run
    results_left: int  # entries left in the results stream at the end

    @property
    def bytes_per_message(self) -> float:
        return self.peak / self.n


class Sampler:
    """Polls used_memory and the delivered count; logs progress now and then."""

    def __init__(self, client: redis.Redis, run: str, n: int) -> None:
        self.client = client
        self.run = run
        self.n = n
        self.peak = 0
        self.started = time.monotonic()
        self.last_log = self.started

    def sample(self) -> None:
        used = int(info_memory(self.client)["used_memory"])
        self.peak = max(self.peak, used)
        now = time.monotonic()
        if now - self.last_log >= 5:
            self.last_log = now
            delivered = meta_int(self.client, self.run, k.META_DELIVERED)
            log(
                f"N={self.n:,}: delivered {delivered:,} ({delivered / self.n:.0%}) after "
                f"{now - self.started:.0f} s; used_memory {used / MB:.1f} MB, "
                f"peak so far {self.peak / MB:.1f} MB"
            )


def one_run(url: str, n: int, args: argparse.Namespace) -> MemoryRun:
    run = new_run(f"mem-{n}")
    client = sync_client(url)
    try:
        baseline = int(info_memory(client)["used_memory"])
        sampler = Sampler(client, run, n)
        with Roles(url, run) as roles:
            started = time.perf_counter()
            procs = [
                roles.spawn(
                    "sms-producer",
                    "producer",
                    ["--count", str(n), "--max-backlog", str(args.max_backlog), "--seed", "1"],
                ),
                roles.spawn("sms-monitor", "monitor", ["--plain", "--report-period", "1"]),
            ]
            for i in range(args.senders):
                sender_args = ["--mean-time", "0", "--failure-rate", "0", "--seed", str(i)]
                sender_args += ["--concurrency", str(args.concurrency), "--name", f"mem-{i}"]
                procs.append(roles.spawn(f"sms-sender-{i}", "sender", sender_args))

            def finished() -> bool:
                sampler.sample()
                return all(p.process.poll() is not None for p in procs)

            wait_for(
                finished,
                120 + n / 1000,
                f"the run of {n:,} messages",
                poll=SAMPLE_EVERY,
                roles=procs,
            )
            seconds = time.perf_counter() - started
            for proc in procs:
                check_exit(proc, timeout=5)
        info = info_memory(client)
        results_left = int(client.xlen(RunKeys(run).results))
        delivered = meta_int(client, run, k.META_DELIVERED)
    finally:
        client.close()
        delete_run(url, run)
    if delivered != n:
        raise SystemExit(f"N={n}: delivered {delivered}, expected {n}")
    return MemoryRun(
        n,
        seconds,
        baseline,
        int(info["used_memory_peak"]),
        max(sampler.peak, int(info["used_memory"])),
        int(info["used_memory"]),
        results_left,
    )


def figures_for(runs: list[MemoryRun]) -> list[Figure]:
    figures: list[Figure] = []
    by_n = {r.n: r for r in runs}
    one_m = by_n.get(10**6)
    for r in runs:
        target, passed = "-", None
        if r.n == 10**6:
            target, passed = f"< {TARGET_1M_MB} MB", r.peak < TARGET_1M_MB * MB
        elif r.n > 10**6 and one_m is not None:
            target = f"<= 1M peak ({one_m.peak / MB:.1f} MB) + {NOISE:.0%}"
            passed = r.peak <= one_m.peak * (1 + NOISE)
        figures.append(
            Figure(
                f"Redis used_memory_peak, N={r.n:,}",
                f"{r.peak / MB:.1f} MB ({r.bytes_per_message:,.1f} B/msg)",
                target=target,
                passed=passed,
                value=r.peak,
                notes=(
                    f"run took {r.seconds:.1f} s; baseline {r.baseline / MB:.1f} MB, "
                    f"sampled peak {r.sampled_peak / MB:.1f} MB, "
                    f"(peak - baseline) / N = {(r.peak - r.baseline) / r.n:,.1f} B/msg; "
                    f"{r.results_left:,} results left in the stream"
                ),
            )
        )
        figures.append(
            Figure(f"Redis used_memory at the end, N={r.n:,}", f"{r.end / MB:.1f} MB", value=r.end)
        )
    return figures


def measure(args: argparse.Namespace) -> list[Figure]:
    sizes = list(args.n) + ([10**7] if args.with_10m and 10**7 not in args.n else [])
    runs: list[MemoryRun] = []
    for n in sizes:
        # A fresh server per N, so that used_memory_peak is this run's own.
        with redis_target(args.redis_url, args.redis_server) as target:
            log(f"N={n:,}: producer + {args.senders} senders + monitor on {target.url}")
            runs.append(one_run(target.url, n, args))
        r = runs[-1]
        log(f"N={n:,}: done in {r.seconds:.1f} s, peak {r.peak / MB:.1f} MB")
    return figures_for(runs)


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument(
        "--n", type=int, nargs="+", default=[10**5, 10**6], help="message counts, one run each"
    )
    parser.add_argument("--with-10m", action="store_true", help="also run N = 10,000,000")
    parser.add_argument("--senders", type=int, default=2, help="sender processes")
    parser.add_argument("--concurrency", type=int, default=64, help="send slots per sender")
    parser.add_argument("--max-backlog", type=int, default=10_000, help="producer backlog cap")
    args = parser.parse_args(argv)
    report("memory", measure(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
