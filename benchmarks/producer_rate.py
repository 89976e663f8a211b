"""Producer enqueue rate: messages per second the project's producer puts in the outbox.

Calls the producer library in-process (``producer.main.produce`` on
``common.connection.connect(url)``) with no backlog cap (``max_backlog=0``), so nothing
waits for senders; then, unless ``--no-process``, times the ``sms-producer`` process
(``python -m producer``) for the same N, interpreter start-up included.

    uv run python benchmarks/producer_rate.py [--n 200000] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from benchmarks._figures import Figure, base_parser, fmt_rate, log, rate, report
from benchmarks._runs import Roles, check_exit, delete_run, new_run, redis_target
from common.connection import connect
from common.keys import RunKeys
from common.settings import ProducerSettings
from producer.main import produce
from tests.support import sync_client


async def time_in_process(url: str, run: str, n: int, max_backlog: int) -> float:
    """Seconds ``produce`` took to open the run and enqueue ``n`` messages."""
    client = connect(url, "producer")
    try:
        settings = ProducerSettings(
            run=run, redis_url=url, count=n, max_backlog=max_backlog, seed=1
        )
        started = time.perf_counter()
        produced = await produce(client, settings, asyncio.Event())
        elapsed = time.perf_counter() - started
    finally:
        await client.aclose()
    if produced != n:
        raise SystemExit(f"the producer enqueued {produced}, expected {n}")
    return elapsed


def check_outbox(url: str, run: str, n: int) -> None:
    client = sync_client(url)
    try:
        length = int(client.xlen(RunKeys(run).outbox))
    finally:
        client.close()
    if length != n:
        raise SystemExit(f"the outbox holds {length} messages, expected {n}")


def time_process(url: str, run: str, n: int, max_backlog: int) -> float:
    """Wall seconds of ``python -m producer`` enqueueing ``n`` messages."""
    args = ["--count", str(n), "--max-backlog", str(max_backlog), "--seed", "1"]
    with Roles(url, run) as roles:
        started = time.perf_counter()
        role = roles.spawn("sms-producer", "producer", args)
        check_exit(role, timeout=600)
        return time.perf_counter() - started


def measure(args: argparse.Namespace) -> list[Figure]:
    figures: list[Figure] = []
    with redis_target(args.redis_url, args.redis_server) as target:
        run = new_run("producer")
        try:
            log(f"in-process producer: {args.n:,} messages, max_backlog={args.max_backlog}")
            elapsed = asyncio.run(time_in_process(target.url, run, args.n, args.max_backlog))
            check_outbox(target.url, run, args.n)
        finally:
            delete_run(target.url, run)
        msg_s = rate(args.n, elapsed)
        figures.append(
            Figure(
                "producer enqueue rate (in-process)",
                fmt_rate(msg_s),
                target=">= 150,000 msg/s",
                passed=msg_s >= 150_000,
                value=msg_s,
                notes=f"{args.n:,} messages in {elapsed:.2f} s, max_backlog={args.max_backlog}",
            )
        )
        if args.process:
            run = new_run("producer-proc")
            try:
                log(f"sms-producer process: {args.n:,} messages")
                wall = time_process(target.url, run, args.n, args.max_backlog)
                check_outbox(target.url, run, args.n)
            finally:
                delete_run(target.url, run)
            figures.append(
                Figure(
                    "sms-producer process wall time",
                    f"{wall:.2f} s ({fmt_rate(rate(args.n, wall))})",
                    value=wall,
                    notes=f"{args.n:,} messages, interpreter start-up included",
                )
            )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--n", type=int, default=200_000, help="messages to enqueue")
    parser.add_argument(
        "--max-backlog", type=int, default=0, help="producer backlog cap (0 = none)"
    )
    parser.add_argument(
        "--no-process",
        dest="process",
        action="store_false",
        help="skip timing the sms-producer process",
    )
    args = parser.parse_args(argv)
    report("producer", measure(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
