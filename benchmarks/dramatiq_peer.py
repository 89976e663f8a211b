"""Dramatiq, the peer: its zero-delay throughput beside ours, paired, and the ratio.

Dramatiq (its ``RedisBroker``, default middleware and settings) does the same trivial
work as our zero-delay senders. Its producer enqueues N messages first: the broker's own
``enqueue`` of ``actor.message(seq, to, body)`` (its Lua script, its encoding),
pipelined 1000 at a time, each a random +1 NXX NXX XXXX number and a 1-100 character
GSM-7 body as our producer makes them. Then the ``dramatiq`` worker CLI starts
(``--processes 2``, its default 8 threads each) running an actor that returns at once
and never fails; with ``--actor-incr`` it INCRs a Redis counter instead (one round trip
of work per message, checked to reach N).

Counting costs the workers nothing: a message is done when its ack has deleted it from
the broker's ``<namespace>:default.msgs`` hash, so done = N - HLEN, polled every 20 ms.
The figure is the steady state, timed as ``end_to_end.py`` times ours: from every worker
process up (its broker id in ``<namespace>:__heartbeats__``, which its first fetch
writes; the producer removes its own) and messages moving, to the last ack. At the end
nothing may be left queued, unacked or dead-lettered. Then, in the same invocation and
on the same Redis, ``end_to_end.py``'s own measurement runs (``ours_prefilled``: N
enqueued, K ``sms-sender`` processes, the same steady state) and the ratio ours /
dramatiq is printed (the target: >= 20x). ``--repeat K`` makes K such pairs and prints
ranges. Should our side fail, the Dramatiq figure is still reported (exit 1).

Dramatiq is never a project dependency: it is installed at run time into a venv in a
temp dir (``uv venv`` + ``uv pip install``; ``python -m venv`` + pip without uv), with
hiredis, as our Redis client has; the actor module and the producer are written there
from the source below. Each Dramatiq run has its own namespace, whose keys alone are
deleted at the end, so ``--redis-url`` loses nothing.

    uv run python benchmarks/dramatiq_peer.py [--n 200000] [--processes 2] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks._figures import Figure, base_parser, fmt_rate, log, rate, report
from benchmarks._runs import CountWatch, new_run, redis_target, wait_for
from benchmarks.end_to_end import ours_prefilled
from tests.processes import Role, clean_env
from tests.support import sync_client

DRAMATIQ_SPEC = "dramatiq[redis]"
EXTRAS = ("hiredis",)  # the parser our own Redis client uses (redis[hiredis])
INSTALL_TIMEOUT = 300  # seconds

ACTOR_MODULE = '''\
"""The benchmark's actor: returns at once (or INCRs a counter), never fails."""
import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

NAMESPACE = os.environ["BENCH_NAMESPACE"]
INCR = os.environ.get("BENCH_ACTOR_INCR") == "1"
broker = RedisBroker(url=os.environ["BENCH_REDIS_URL"], namespace=NAMESPACE)
dramatiq.set_broker(broker)


@dramatiq.actor
def deliver(seq, to, body):
    if INCR:
        broker.client.incr(NAMESPACE + ":done")
'''

PRODUCER = '''\
"""Enqueue N messages with the broker's own ``enqueue`` (its Lua script, its encoding),
sent to Redis BATCH at a time through a pipeline; print the seconds it took."""
import random
import sys
import time

from dramatiq.brokers.redis import RedisBroker

import tasks

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ."
BATCH = 1000
n, rng = int(sys.argv[1]), random.Random(int(sys.argv[2]))


def message(seq):
    bits = rng.getrandbits(48) % 6_400_000_000
    area, rest = divmod(bits, 8_000_000)
    exchange, line = divmod(rest, 10_000)
    to = f"+1{200 + area}{200 + exchange}{line:04d}"
    body = "".join(rng.choices(ALPHABET, k=rng.randint(1, 100)))
    return tasks.deliver.message(seq, to, body)


started = time.perf_counter()
# One plain enqueue first: it asks Redis for the Lua stack size, which the broker class
# caches (a pipelined broker could not get the answer back).
tasks.broker.enqueue(message(0))
pipe = tasks.broker.client.pipeline(transaction=False)
batched = RedisBroker(client=pipe, namespace=tasks.NAMESPACE)
for seq in range(1, n):
    batched.enqueue(message(seq))
    if seq % BATCH == 0:
        pipe.execute()
pipe.execute()
elapsed = time.perf_counter() - started
# Our heartbeats would pass for workers': only worker processes' ids may stay in the set.
ids = (tasks.broker.broker_id, batched.broker_id)
tasks.broker.client.zrem(tasks.NAMESPACE + ":__heartbeats__", *ids)
print(elapsed)
'''


@dataclass
class DramatiqEnv:
    """A venv with Dramatiq, and the folder holding the generated actor and producer."""

    python: Path
    folder: Path
    version: str


@dataclass
class DramatiqRun:
    enqueue_seconds: float
    process_seconds: float  # from the worker CLI's start to the last ack
    steady: float  # messages/s, steady state


def run_quiet(argv: Sequence[str], what: str) -> str:
    """Run a command; its stdout, or SystemExit saying ``what`` failed, with its stderr."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SystemExit(f"{what} failed: {exc}") from None
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-15:])
        raise SystemExit(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def install(folder: Path, spec: str) -> Path:
    """A venv in ``folder`` with ``spec`` (and hiredis) installed: its python."""
    venv, python = folder / "venv", folder / "venv" / "bin" / "python"
    uv = os.environ.get("UV") or shutil.which("uv")
    what = f"installing {spec} (Dramatiq cannot be measured without it)"
    if uv:
        run_quiet([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], what)
        run_quiet([uv, "pip", "install", "--quiet", "--python", str(python), spec, *EXTRAS], what)
    else:
        run_quiet([sys.executable, "-m", "venv", str(venv)], what)
        run_quiet([str(python), "-m", "pip", "install", "--quiet", spec, *EXTRAS], what)
    return python


@contextmanager
def dramatiq_env(spec: str) -> Iterator[DramatiqEnv]:
    with tempfile.TemporaryDirectory(prefix="sms-bench-dramatiq-") as tmp:
        folder = Path(tmp)
        log(f"dramatiq: installing {spec} into a temporary venv")
        python = install(folder, spec)
        (folder / "tasks.py").write_text(ACTOR_MODULE)
        (folder / "produce.py").write_text(PRODUCER)
        probe = "import dramatiq; print(dramatiq.__version__)"
        version = run_quiet([str(python), "-c", probe], "importing dramatiq").strip()
        yield DramatiqEnv(python, folder, version)


def bench_env(url: str, namespace: str, actor_incr: bool) -> dict[str, str]:
    env = clean_env()
    env.pop("VIRTUAL_ENV", None)
    env.update(
        {
            "BENCH_REDIS_URL": url,
            "BENCH_NAMESPACE": namespace,
            "BENCH_ACTOR_INCR": "1" if actor_incr else "0",
        }
    )
    return env


def enqueue(denv: DramatiqEnv, env: dict[str, str], n: int) -> float:
    """Run the generated producer: N ``send`` calls; their seconds."""
    argv = [str(denv.python), str(denv.folder / "produce.py"), str(n), "1"]
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise SystemExit(f"the dramatiq producer did not start: {exc}") from None
    if done.returncode != 0:
        raise SystemExit(f"the dramatiq producer exited {done.returncode}:\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1])


def start_workers(denv: DramatiqEnv, env: dict[str, str], args: argparse.Namespace) -> Role:
    argv = [str(denv.python), "-m", "dramatiq", "tasks", "--path", str(denv.folder)]
    argv += ["--processes", str(args.processes)]
    if args.threads is not None:
        argv += ["--threads", str(args.threads)]
    return Role("dramatiq", argv, env, denv.folder)


def wait_processed(url: str, namespace: str, args: argparse.Namespace, cli: Role) -> CountWatch:
    """Poll until N messages are acked; the watch knows the steady state's start."""
    n, client = args.n, sync_client(url)
    msgs, heartbeats = f"{namespace}:default.msgs", f"{namespace}:__heartbeats__"
    watch = CountWatch(
        lambda: n - int(client.hlen(msgs)),
        ready=lambda: int(client.zcard(heartbeats)) >= args.processes,
    )
    try:
        wait_for(
            lambda: watch.reached(n),
            args.timeout,
            f"{n} dramatiq acks",
            progress=lambda: log(f"dramatiq: processed {watch.last:,} / {n:,}"),
            roles=[cli],
        )
    finally:
        client.close()
    return watch


def stop_workers(cli: Role) -> None:
    """SIGTERM the worker CLI (it never exits by itself); SystemExit unless it exits 0."""
    cli.stop(timeout=30)
    if cli.process.returncode != 0:
        tail = "\n".join(cli.errors().splitlines()[-40:])
        raise SystemExit(f"dramatiq exited {cli.process.returncode}:\n{tail}")


def check_processed(url: str, namespace: str, n: int, actor_incr: bool) -> None:
    """Nothing left queued, unacked or dead-lettered; the counter at N with the INCR actor."""
    client = sync_client(url)
    try:
        left = int(client.llen(f"{namespace}:default")) + int(
            client.hlen(f"{namespace}:default.msgs")
        )
        dead = int(client.zcard(f"{namespace}:default.XQ"))
        counted = int(client.get(f"{namespace}:done") or 0)
    finally:
        client.close()
    if left or dead or (actor_incr and counted != n):
        raise SystemExit(f"dramatiq: {left} left, {dead} dead-lettered, counter {counted} of {n}")


def delete_namespace(url: str, namespace: str) -> None:
    """Delete exactly this run's keys (all of them start with the namespace)."""
    client = sync_client(url)
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def dramatiq_run(denv: DramatiqEnv, url: str, args: argparse.Namespace) -> DramatiqRun:
    namespace = new_run("dramatiq")
    env = bench_env(url, namespace, args.actor_incr)
    try:
        log(f"dramatiq: enqueueing {args.n:,} messages (broker.enqueue, pipelined)")
        enqueue_s = enqueue(denv, env, args.n)
        log(f"dramatiq: worker CLI, {args.processes} processes")
        cli = start_workers(denv, env, args)
        try:
            started = time.perf_counter()
            watch = wait_processed(url, namespace, args, cli)
            ended = time.perf_counter()
        finally:
            stop_workers(cli)
        check_processed(url, namespace, args.n, args.actor_incr)
    finally:
        delete_namespace(url, namespace)
    return DramatiqRun(enqueue_s, ended - started, watch.steady_rate(args.n, ended))


def ours_run(url: str, args: argparse.Namespace) -> float | None:
    """``end_to_end.py``'s zero-delay measurement (no backlog variant, no naive): msg/s;
    None when it failed (the Dramatiq figures are reported all the same)."""
    e2e = argparse.Namespace(
        n=args.n, senders=args.senders, concurrency=args.concurrency, timeout=args.timeout
    )
    try:
        return ours_prefilled(url, e2e)[3]
    except SystemExit as exc:
        log(f"ours: the project's own measurement failed; dramatiq reported alone: {exc}")
        return None


def span(values: Sequence[float], fmt: str = "{:,.0f}", unit: str = " msg/s") -> str:
    if len(values) == 1:
        return fmt.format(values[0]) + unit
    return f"{fmt.format(min(values))}-{fmt.format(max(values))}{unit}"


def dramatiq_figure(runs: Sequence[DramatiqRun], args: argparse.Namespace, version: str) -> Figure:
    rates = [r.steady for r in runs]
    whole = [rate(args.n, r.process_seconds) for r in runs]
    work = "INCR per message" if args.actor_incr else "returns at once"
    return Figure(
        f"dramatiq {version} throughput, zero delay ({args.processes} worker processes)",
        span(rates),
        value=statistics.median(rates),
        notes=(
            f"steady state, every worker process fetching to the last ack; {args.n:,} "
            f"messages; actor {work}; {span(whole)} with the CLI's start-up; enqueue "
            f"{span([r.enqueue_seconds for r in runs], '{:.1f}', ' s')}; "
            f"{len(runs)} run(s): {', '.join(fmt_rate(x) for x in rates)}"
        ),
    )


def pair_figures(
    dram: Sequence[DramatiqRun], ours: Sequence[float], args: argparse.Namespace
) -> list[Figure]:
    ratios = [o / d.steady for o, d in zip(ours, dram, strict=True)]
    return [
        Figure(
            f"ours: end-to-end throughput, zero delay ({args.senders} sender processes)",
            span(ours),
            value=statistics.median(ours),
            notes=f"end_to_end.py's steady state; run(s): {', '.join(fmt_rate(x) for x in ours)}",
        ),
        Figure(
            "ratio ours / dramatiq (msg/s, paired runs)",
            span(ratios, "{:.1f}", "x"),
            target=">= 20x",
            passed=min(ratios) >= 20,
            value=statistics.median(ratios),
            notes=", ".join(f"{r:.1f}x" for r in ratios),
        ),
    ]


def run_pairs(
    denv: DramatiqEnv, url: str, args: argparse.Namespace
) -> tuple[list[DramatiqRun], list[float], bool]:
    """``--repeat`` pairs, Dramatiq then ours: both sides' rates, and whether ours failed."""
    dram: list[DramatiqRun] = []
    ours: list[float] = []
    failed = False
    for i in range(args.repeat):
        log(f"pair {i + 1} of {args.repeat}")
        dram.append(dramatiq_run(denv, url, args))
        log(f"dramatiq: {fmt_rate(dram[-1].steady)}")
        if args.ours and not failed:
            got = ours_run(url, args)
            failed = got is None
            ours += [] if got is None else [got]
            log(f"ours: {'failed' if got is None else fmt_rate(got)}")
    return dram, ours, failed


def measure(args: argparse.Namespace) -> list[Figure]:
    with (
        dramatiq_env(args.dramatiq_spec) as denv,
        redis_target(args.redis_url, args.redis_server) as target,
    ):
        dram, ours, failed = run_pairs(denv, target.url, args)
        figures = [dramatiq_figure(dram, args, denv.version)]
    if ours:
        figures += pair_figures(dram[: len(ours)], ours, args)
    if failed:
        figures.append(Figure("ours: end-to-end throughput", "error (see the log)", passed=False))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--n", type=int, default=200_000, help="messages, for each side")
    parser.add_argument("--processes", type=int, default=2, help="dramatiq worker processes")
    parser.add_argument("--threads", type=int, default=None, help="per process (default: its own)")
    parser.add_argument("--actor-incr", action="store_true", help="the actor INCRs a counter")
    parser.add_argument("--senders", type=int, default=2, help="our sender processes")
    parser.add_argument("--concurrency", type=int, default=64, help="send slots per sender")
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs (ranges)")
    parser.add_argument("--no-ours", dest="ours", action="store_false", help="dramatiq alone")
    parser.add_argument("--dramatiq-spec", default=DRAMATIQ_SPEC, help="what pip installs")
    parser.add_argument("--timeout", type=float, default=600, help="give up after (s)")
    args = parser.parse_args(argv)
    figures = measure(args)
    report("dramatiq peer", figures, args)
    return 1 if any(f.measured.startswith("error") for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
