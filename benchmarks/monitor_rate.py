"""Monitor ingestion rate: how fast the monitor folds a results stream into its totals.

Pre-fills a run's results stream with N result entries (a mix of successes and failed
attempts from 4 senders, fields as in DESIGN.md), marks the run complete in its meta,
then times the project's monitor (in-process, plain view into a buffer, report period
1 s, --keep-results) from start until it has read everything and returned.

    uv run python benchmarks/monitor_rate.py [--n 500000] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import sys
import time
import uuid
from collections.abc import Iterator

import redis

from benchmarks._figures import Figure, base_parser, fmt_rate, log, rate, report
from benchmarks._runs import delete_run, new_run, redis_target
from common import keys as k
from common.connection import connect
from common.keys import RunKeys
from common.results import Result
from common.settings import MonitorSettings
from monitor.monitor import Monitor
from monitor.views.plain import PlainView

TARGET = 200_000  # results/s
SENDERS = ("gw-a", "gw-b", "gw-c", "gw-d")
FAIL_EVERY = 4  # every 4th attempt fails: 25 % failed attempts
CHUNK = 5_000


def bulk(arg: str) -> str:
    """One argument in the Redis protocol (ASCII)."""
    return f"${len(arg)}\r\n{arg}\r\n"


def send_pipelined(client: redis.Redis, commands: list[str]) -> None:
    """Send already-encoded commands in one write, then read every reply (pipelining
    without redis-py's per-command packing cost)."""
    conn = client.connection_pool.get_connection()
    try:
        conn.send_packed_command(["".join(commands).encode()])  # type: ignore[no-untyped-call]
        for _ in commands:
            conn.read_response()
    finally:
        client.connection_pool.release(conn)


def result_entries(keys: RunKeys, n: int, created: float, seed: int) -> Iterator[str]:
    """Encoded XADD commands for ``n`` attempts, in the senders' own layout
    (``common.results.Result.fields``); every ``FAIL_EVERY``-th attempt fails."""
    rng = random.Random(seed)
    durations = [round(rng.gammavariate(10.0, 0.01), 6) for _ in range(997)]
    head = "".join(bulk(a) for a in ("XADD", keys.results, "*"))
    sent = 0
    attempts = [0] * len(SENDERS)
    for i in range(n):
        which = i % len(SENDERS)
        attempt = attempts[which] + 1
        ts = round(created + 60.0 * i / n, 6)
        ok = i % FAIL_EVERY != FAIL_EVERY - 1
        latency = round(60.0 * i / n, 6) if ok else None
        result = Result(sent, SENDERS[which], attempt, ok, durations[i % 997], ts, latency)
        fields = result.fields()
        attempts[which] = 0 if ok else attempt
        sent += ok
        yield f"*{3 + len(fields)}\r\n{head}" + "".join(bulk(f) for f in fields)


def prefill(client: redis.Redis, keys: RunKeys, n: int, seed: int = 1) -> int:
    """Write ``n`` result entries (pipelined XADD) and a completed run's meta.

    Returns how many messages were delivered (the run's total).
    """
    now = time.time()
    created = now - 60.0
    chunk: list[str] = []
    for args in result_entries(keys, n, created, seed):
        chunk.append(args)
        if len(chunk) >= CHUNK:
            send_pipelined(client, chunk)
            chunk = []
    if chunk:
        send_pipelined(client, chunk)
    sent = n - n // FAIL_EVERY
    meta: dict[str, str | int | float] = {
        k.META_ID: uuid.uuid4().hex,
        k.META_TOTAL: sent,
        k.META_PRODUCED: sent,
        k.META_DONE: 1,
        k.META_CREATED: created,
        k.META_DELIVERED: sent,
        k.META_ABANDONED: 0,
        k.META_DEAD: 0,
        k.META_CONFIG: json.dumps({"count": sent, "benchmark": "monitor_rate"}),
    }
    client.hset(keys.meta, mapping=meta)  # type: ignore[arg-type]
    for name in SENDERS:
        profile = {
            "mean_time": 0.1,
            "failure_rate": 0.25,
            "concurrency": 1,
            "status": "stopped",
            "heartbeat": now,
            "inflight": 0,
        }
        client.hset(keys.senders, name, json.dumps(profile))
    return sent


async def time_monitor(url: str, run: str) -> tuple[float, int, int]:
    """Seconds the monitor took; messages sent and attempts it counted."""
    client = connect(url, "monitor")
    try:
        settings = MonitorSettings(run=run, redis_url=url, report_period=1, keep_results=True)
        monitor = Monitor(client, settings, PlainView(io.StringIO()))
        started = time.perf_counter()
        snap = await monitor.watch(asyncio.Event())
        elapsed = time.perf_counter() - started
    finally:
        await client.aclose()
    if snap is None:
        raise SystemExit("the monitor never saw the run")
    return elapsed, snap.sent, snap.attempts


def measure(args: argparse.Namespace) -> list[Figure]:
    with redis_target(args.redis_url, args.redis_server) as target:
        run = new_run("monitor")
        client = target.client()
        try:
            log(f"pre-filling {args.n:,} results for run {run}")
            t0 = time.perf_counter()
            sent = prefill(client, RunKeys(run), args.n)
            fill = time.perf_counter() - t0
            log(f"pre-filled in {fill:.1f} s ({fmt_rate(rate(args.n, fill))}); timing the monitor")
            elapsed, counted, attempts = asyncio.run(time_monitor(target.url, run))
        finally:
            client.close()
            delete_run(target.url, run)
    if counted != sent or attempts != args.n:
        raise SystemExit(
            f"the monitor counted sent={counted} attempts={attempts}, expected {sent} / {args.n}"
        )
    results_per_s = rate(args.n, elapsed)
    return [
        Figure(
            "monitor ingestion rate",
            f"{results_per_s:,.0f} results/s",
            target=f">= {TARGET:,} results/s",
            passed=results_per_s >= TARGET,
            value=results_per_s,
            notes=f"{args.n:,} results ({sent:,} sent) in {elapsed:.2f} s",
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--n", type=int, default=500_000, help="result entries to pre-fill")
    args = parser.parse_args(argv)
    report("monitor ingestion", measure(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
