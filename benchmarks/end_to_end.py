"""Zero-delay end-to-end throughput: the project's senders against a naive pipeline.

Ours: the producer (in-process, ``max_backlog=0``) enqueues N messages first; then K
``sms-sender`` processes (``python -m sender --mean-time 0 --failure-rate 0
--concurrency 64``) start, and the run's meta is polled until ``delivered == N``. The
figure is the steady state: from the moment every sender has registered and deliveries
move, to the last delivery (the naive pipeline is timed the same way); the rate counting
the processes' start-up is printed beside it. Then (unless ``--no-backlog-variant``) a
second run starts the producer with the default backlog cap (10000) as its own process
together with the senders and times the whole blast. In the same invocation and on the
same Redis, the naive pipeline of ``benchmarks/naive.py`` runs over a smaller N; the
ratio ours/naive is printed.

    uv run python benchmarks/end_to_end.py [--n 200000] [--senders 2] [--naive-n 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from benchmarks._figures import Figure, base_parser, fmt_rate, log, rate, report
from benchmarks._runs import (
    CountWatch,
    Roles,
    check_exit,
    delete_run,
    meta_int,
    new_run,
    redis_target,
    wait_for,
)
from benchmarks.naive import measure_naive, naive_figures
from common import keys as k
from common.connection import connect
from common.keys import RunKeys
from common.settings import ProducerSettings
from producer.main import produce
from tests.processes import Role
from tests.support import sync_client


async def enqueue(url: str, run: str, n: int) -> float:
    client = connect(url, "producer")
    try:
        settings = ProducerSettings(run=run, redis_url=url, count=n, max_backlog=0, seed=1)
        started = time.perf_counter()
        produced = await produce(client, settings, asyncio.Event())
        elapsed = time.perf_counter() - started
    finally:
        await client.aclose()
    if produced != n:
        raise SystemExit(f"the producer enqueued {produced}, expected {n}")
    return elapsed


def spawn_senders(roles: Roles, args: argparse.Namespace) -> list[Role]:
    return [
        roles.spawn(
            f"sender-{i}",
            "sender",
            [
                "--mean-time",
                "0",
                "--failure-rate",
                "0",
                "--concurrency",
                str(args.concurrency),
                "--name",
                f"bench-{i}",
                "--seed",
                str(i),
            ],
        )
        for i in range(args.senders)
    ]


def wait_delivered(url: str, run: str, args: argparse.Namespace, roles: list[Role]) -> CountWatch:
    n, timeout = args.n, args.timeout
    client = sync_client(url)
    watch = CountWatch(
        lambda: meta_int(client, run, k.META_DELIVERED),
        ready=lambda: int(client.hlen(RunKeys(run).senders)) >= args.senders,  # all registered
    )
    try:
        wait_for(
            lambda: watch.reached(n),
            timeout,
            f"{n} deliveries",
            progress=lambda: log(f"delivered {watch.last:,} / {n:,}"),
            roles=roles,
        )
    finally:
        client.close()
    return watch


def check_delivered(url: str, run: str, n: int) -> None:
    client = sync_client(url)
    try:
        # Bits below the base have left the bitmap: all of them were delivered here.
        bits = int(client.bitcount(RunKeys(run).delivered))
        bits += meta_int(client, run, k.META_DELIVERED_BASE)
        delivered = meta_int(client, run, k.META_DELIVERED)
    finally:
        client.close()
    if bits != n or delivered != n:
        raise SystemExit(f"delivered base+bits={bits} meta={delivered}, expected {n}")


def ours_prefilled(url: str, args: argparse.Namespace) -> tuple[float, float, float, float]:
    """Enqueue first, then time the senders: (enqueue s, until delivered s, until exit s,
    steady-state msg/s from every sender up and delivering to the last delivery)."""
    run = new_run("e2e")
    try:
        log(f"ours: enqueueing {args.n:,} messages (in-process producer, max_backlog=0)")
        enqueue_s = asyncio.run(enqueue(url, run, args.n))
        log(f"ours: {args.senders} sms-sender processes, concurrency {args.concurrency}")
        with Roles(url, run) as roles:
            started = time.perf_counter()
            senders = spawn_senders(roles, args)
            watch = wait_delivered(url, run, args, senders)
            ended = time.perf_counter()
            delivered_s = ended - started
            steady = watch.steady_rate(args.n, ended)
            for sender in senders:
                check_exit(sender)
            exited_s = time.perf_counter() - started
        check_delivered(url, run, args.n)
    finally:
        delete_run(url, run)
    return enqueue_s, delivered_s, exited_s, steady


def ours_with_backlog(url: str, args: argparse.Namespace) -> float:
    """Producer process (default backlog cap) and senders together: seconds to deliver N."""
    run = new_run("e2e-backlog")
    try:
        log(f"ours, backlog variant: sms-producer (max_backlog 10000) + {args.senders} senders")
        with Roles(url, run) as roles:
            started = time.perf_counter()
            producer = roles.spawn(
                "sms-producer",
                "producer",
                ["--count", str(args.n), "--max-backlog", "10000", "--seed", "1"],
            )
            senders = spawn_senders(roles, args)
            wait_delivered(url, run, args, [producer, *senders])
            elapsed = time.perf_counter() - started
            for role in (producer, *senders):
                check_exit(role)
        check_delivered(url, run, args.n)
    finally:
        delete_run(url, run)
    return elapsed


def measure(args: argparse.Namespace) -> list[Figure]:
    figures: list[Figure] = []
    with redis_target(args.redis_url, args.redis_server) as target:
        enqueue_s, delivered_s, exited_s, ours = ours_prefilled(target.url, args)
        figures.append(
            Figure(
                f"end-to-end throughput, zero delay ({args.senders} sender processes)",
                fmt_rate(ours),
                target=">= 45,000 msg/s",
                passed=ours >= 45_000,
                value=ours,
                notes=(
                    f"steady state, from every sender up and delivering to the last delivery; "
                    f"{args.n:,} messages delivered {delivered_s:.2f} s after the senders "
                    f"started ({fmt_rate(rate(args.n, delivered_s))} with their start-up; "
                    f"processes exited at {exited_s:.2f} s; enqueue took {enqueue_s:.2f} s); "
                    f"concurrency {args.concurrency}"
                ),
            )
        )
        if args.backlog_variant:
            blast_s = ours_with_backlog(target.url, args)
            figures.append(
                Figure(
                    "end-to-end, producer with backlog 10000 running alongside",
                    fmt_rate(rate(args.n, blast_s)),
                    value=rate(args.n, blast_s),
                    notes=f"{args.n:,} messages in {blast_s:.2f} s from the producer's start",
                )
            )
        naive = measure_naive(target.url, args.naive_n, args.senders, args.timeout)
    figures += naive_figures(naive)
    ratio = ours / naive.throughput
    figures.append(
        Figure(
            "ratio ours / naive (end-to-end msg/s)",
            f"{ratio:.1f}x",
            target=">= 15x",
            passed=ratio >= 15,
            value=ratio,
            notes=f"{fmt_rate(ours)} / {fmt_rate(naive.throughput)}",
        )
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--n", type=int, default=200_000, help="messages for our pipeline")
    parser.add_argument(
        "--senders", type=int, default=2, help="sender (and naive worker) processes"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="send slots per sender")
    parser.add_argument("--naive-n", type=int, default=20_000, help="messages for the naive one")
    parser.add_argument(
        "--no-backlog-variant",
        dest="backlog_variant",
        action="store_false",
        help="skip timing the producer (default backlog cap) running alongside the senders",
    )
    parser.add_argument("--timeout", type=float, default=600, help="give up after (s)")
    args = parser.parse_args(argv)
    report("end to end", measure(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
