"""A naive Redis Streams pipeline, the baseline the project is compared against.

One Redis command per step per message, synchronous redis-py, one round trip each:
XADD to enqueue messages one at a time; then K worker processes each loop
XREADGROUP COUNT 1 -> XADD a result entry -> XACK. No batching, no Lua, no pipelining.

    uv run python benchmarks/naive.py [--n 20000] [--workers 2] [--redis-url URL]

(``naive.py worker ...`` is one worker process; the benchmark starts them itself.)
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import time
from dataclasses import dataclass
from typing import Any

from benchmarks._figures import Figure, base_parser, fmt_rate, log, rate, report
from benchmarks._runs import (
    CountWatch,
    Roles,
    check_exit,
    delete_run,
    new_run,
    redis_target,
    wait_for,
)
from common.keys import GROUP, RunKeys
from tests.support import sync_client

WORKER_BLOCK_MS = 500  # a worker exits after the outbox stays empty this long


@dataclass
class NaiveResult:
    n: int
    workers: int
    enqueue_seconds: float
    process_seconds: float
    steady: float  # results/s from every worker up to the last result (start-up left out)

    @property
    def enqueue_rate(self) -> float:
        return rate(self.n, self.enqueue_seconds)

    @property
    def throughput(self) -> float:
        return self.steady


def enqueue(url: str, run: str, n: int, seed: int = 1) -> float:
    """XADD ``n`` messages one at a time (one round trip each); return the seconds."""
    keys = RunKeys(run)
    rng = random.Random(seed)
    client = sync_client(url)
    try:
        client.xgroup_create(keys.outbox, GROUP, id="0", mkstream=True)
        started = time.perf_counter()
        for seq in range(n):
            to = "+1" + "".join(rng.choices(string.digits, k=10))
            body = "".join(rng.choices(string.ascii_letters + " ", k=rng.randint(1, 100)))
            fields: dict[Any, Any] = {"seq": seq, "to": to, "body": body, "created": time.time()}
            client.xadd(keys.outbox, fields)
        return time.perf_counter() - started
    finally:
        client.close()


def worker(url: str, run: str, name: str) -> int:
    """Serve the outbox until it stays empty for WORKER_BLOCK_MS; return messages done."""
    keys = RunKeys(run)
    client = sync_client(url)
    done = 0
    try:
        client.hset(keys.senders, name, "ready")  # the clock waits for every worker
        while True:
            reply: Any = client.xreadgroup(
                GROUP, name, {keys.outbox: ">"}, count=1, block=WORKER_BLOCK_MS
            )
            if not reply:
                return done
            entry_id, fields = reply[0][1][0]
            ts = time.time()
            result: dict[Any, Any] = {
                "seq": fields["seq"],
                "sender": name,
                "attempt": 1,
                "ok": 1,
                "duration": 0.0,
                "ts": ts,
                "latency": ts - float(fields["created"]),
            }
            client.xadd(keys.results, result)
            client.xack(keys.outbox, GROUP, entry_id)
            done += 1
    finally:
        client.close()


def results_count(url: str, run: str) -> int:
    client = sync_client(url)
    try:
        return int(client.xlen(RunKeys(run).results))
    finally:
        client.close()


def measure_naive(url: str, n: int, workers: int, timeout: float = 600) -> NaiveResult:
    """Enqueue ``n`` naively, then time ``workers`` worker processes until all are done."""
    run = new_run("naive")
    keys = RunKeys(run)
    try:
        log(f"naive: enqueueing {n:,} messages one XADD at a time")
        enqueue_seconds = enqueue(url, run, n)
        log(f"naive: {workers} worker processes")
        client = sync_client(url)
        try:
            with Roles(url, run) as roles:
                started = time.perf_counter()
                procs = [
                    roles.spawn(
                        f"naive-{i}",
                        "benchmarks.naive",
                        ["worker", "--redis-url", url, "--run", run, "--name", f"naive-{i}"],
                    )
                    for i in range(workers)
                ]
                watch = CountWatch(
                    lambda: int(client.xlen(keys.results)),
                    ready=lambda: int(client.hlen(keys.senders)) >= workers,
                )
                wait_for(
                    lambda: watch.reached(n),
                    timeout,
                    f"{n} naive results",
                    progress=lambda: log(f"naive: {watch.last:,} / {n:,}"),
                    roles=procs,
                )
                ended = time.perf_counter()
                elapsed = ended - started
                steady = watch.steady_rate(n, ended)
                for proc in procs:
                    check_exit(proc)
        finally:
            client.close()
    finally:
        delete_run(url, run)
    return NaiveResult(n, workers, enqueue_seconds, elapsed, steady)


def naive_figures(result: NaiveResult) -> list[Figure]:
    return [
        Figure(
            "naive enqueue rate (1 XADD per message)",
            fmt_rate(result.enqueue_rate),
            value=result.enqueue_rate,
            notes=f"{result.n:,} messages in {result.enqueue_seconds:.2f} s",
        ),
        Figure(
            f"naive end-to-end throughput ({result.workers} worker processes)",
            fmt_rate(result.throughput),
            value=result.throughput,
            notes=(
                f"steady state, from every worker up and the first result to the last; "
                f"{result.n:,} messages in "
                f"{result.process_seconds:.2f} s from the workers' start "
                f"({fmt_rate(rate(result.n, result.process_seconds))} with their start-up)"
            ),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        wp = argparse.ArgumentParser(prog="naive.py worker")
        wp.add_argument("--redis-url", required=True)
        wp.add_argument("--run", required=True)
        wp.add_argument("--name", required=True)
        wargs = wp.parse_args(argv[1:])
        worker(wargs.redis_url, wargs.run, wargs.name)
        return 0
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--n", type=int, default=20_000, help="messages")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)
    with redis_target(args.redis_url, args.redis_server) as target:
        result = measure_naive(target.url, args.n, args.workers)
    report("naive pipeline", naive_figures(result), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
