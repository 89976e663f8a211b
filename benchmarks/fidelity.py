"""Timing fidelity: does one sender with C slots and mean time T deliver C/T messages/s?

Starts the ``sms-producer`` process (default backlog cap 10000) and waits for its first
batch, then one ``sms-sender`` process with ``--concurrency 1000 --mean-time 0.1
--failure-rate 0``: theoretically 1000 / 0.1 = 10,000 msg/s. The clock runs from the
sender's first heartbeat (registered, about to consume) until the run's meta says
``delivered == N``. The observed mean attempt time is how long a slot really spent per
attempt in the steady state (slots over the rate of attempt starts: ``benchmarks._results``),
compared with the configured mean.

    uv run python benchmarks/fidelity.py [--n 100000] [--concurrency 1000] [--mean-time 0.1]
"""

from __future__ import annotations

import argparse
import sys
import time

from benchmarks._figures import Figure, base_parser, fmt_rate, log, rate, report
from benchmarks._results import read_results
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

RATE_SHARE = 0.9  # target: at least 90 % of concurrency / mean_time
MEAN_TOLERANCE = 0.02  # target: observed mean attempt time within 2 % of the configured mean
SENDER = "fidelity"


def measure(args: argparse.Namespace) -> list[Figure]:
    theoretical = args.concurrency / args.mean_time
    with redis_target(args.redis_url, args.redis_server) as target:
        run = new_run("fidelity")
        keys = RunKeys(run)
        client = sync_client(target.url)
        try:
            with Roles(target.url, run) as roles:
                log(f"sms-producer: {args.n:,} messages, max_backlog {args.max_backlog}")
                producer = roles.spawn(
                    "sms-producer",
                    "producer",
                    ["--count", str(args.n), "--max-backlog", str(args.max_backlog)],
                )
                first_batch = min(args.n, args.max_backlog or args.n, 1000)
                wait_for(
                    lambda: meta_int(client, run, k.META_PRODUCED) >= first_batch,
                    60,
                    "the producer's first batch",
                    roles=[producer],
                )
                log(
                    f"sms-sender: concurrency {args.concurrency}, mean {args.mean_time} s, "
                    f"failure rate 0 (theoretical {fmt_rate(theoretical)})"
                )
                spawned = time.perf_counter()
                sender = roles.spawn(
                    "sms-sender",
                    "sender",
                    [
                        "--concurrency",
                        str(args.concurrency),
                        "--mean-time",
                        str(args.mean_time),
                        "--failure-rate",
                        "0",
                        "--name",
                        SENDER,
                        "--seed",
                        "1",
                    ],
                )
                wait_for(
                    lambda: bool(client.hexists(keys.senders, SENDER)),
                    60,
                    "the sender",
                    roles=[producer, sender],
                )
                started = time.perf_counter()
                wait_for(
                    lambda: meta_int(client, run, k.META_DELIVERED) >= args.n,
                    args.timeout,
                    f"{args.n} deliveries",
                    progress=lambda: log(
                        f"delivered {meta_int(client, run, k.META_DELIVERED):,} / {args.n:,}"
                    ),
                    roles=[producer, sender],
                )
                finished = time.perf_counter()
                check_exit(producer)
                check_exit(sender)
            got = read_results(client, keys)
            observed_mean, attempts = got.observed_mean(SENDER, args.concurrency), got.attempts
        finally:
            client.close()
            delete_run(target.url, run)
    achieved = rate(args.n, finished - started)
    deviation = (observed_mean - args.mean_time) / args.mean_time
    return [
        Figure(
            f"fidelity: rate, 1 sender x {args.concurrency} slots at {args.mean_time:g} s",
            f"{fmt_rate(achieved)} ({achieved / theoretical:.1%} of {fmt_rate(theoretical)})",
            target=f">= {fmt_rate(theoretical * RATE_SHARE)}",
            passed=achieved >= theoretical * RATE_SHARE,
            value=achieved,
            notes=(
                f"{args.n:,} messages in {finished - started:.2f} s from the sender's first "
                f"heartbeat ({finished - spawned:.2f} s from its process start)"
            ),
        ),
        Figure(
            "fidelity: observed mean attempt time",
            f"{observed_mean:.4f} s ({deviation:+.1%})",
            target=f"{args.mean_time:g} s +/- {MEAN_TOLERANCE:.0%}",
            passed=abs(deviation) <= MEAN_TOLERANCE,
            value=observed_mean,
            notes=(
                f"slots / rate of attempt starts in the steady state, {attempts:,} attempts "
                "(benchmarks._results)"
            ),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--n", type=int, default=100_000, help="messages")
    parser.add_argument("--concurrency", type=int, default=1000, help="send slots")
    parser.add_argument("--mean-time", type=float, default=0.1, help="mean seconds per attempt")
    parser.add_argument("--max-backlog", type=int, default=10_000, help="producer backlog cap")
    parser.add_argument("--timeout", type=float, default=600, help="give up after (s)")
    args = parser.parse_args(argv)
    report("timing fidelity", measure(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
