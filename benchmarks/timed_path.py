"""The timed path's cost per attempt: CPU of the sms-sim process and of Redis, and Redis
round trips, for the national-alert fleet at several time scales.

Each trial is one ``sms-sim run examples/national-alert.yaml --time-scale S --count N
--plain`` (40 senders under an account cap of 400 attempts per simulated second, so
400 x S a real second at most; a copy of the config with ``report_period: 1``), on a
throwaway redis-server (``--redis-url``: a given server, never flushed, only the run's
keys deleted). ``--count`` (1,000,000) keeps the run in its steady state throughout; it
is stopped (SIGINT, SIGKILL after 30 s) after the window. The warm-up (``--warmup``, 8 s)
starts at the first plain line with an attempt; then, over the window (``--window``,
15 s), sampled at its start and its end:

- process CPU: utime + stime + cutime + cstime (``/proc/<pid>/stat``) of the sms-sim
  process and of every live descendant (found through the ppid of ``/proc/*/stat``):
  a descendant that ends and is reaped counts in its parent's cutime/cstime, so only one
  that ends between the two reads of one sample is missed or counted twice (one clock
  tick, 10 ms, each);
- Redis CPU: ``used_cpu_user + used_cpu_sys`` of ``INFO cpu``;
- round trips: ``total_reads_processed`` of ``INFO stats``, the requests Redis read from
  its clients' sockets. Redis 7 counts the commands a Lua script calls in
  ``INFO commandstats`` and in ``total_commands_processed`` too, so neither tells the
  client's commands; a read is one request on a connection (redis-py waits for the reply
  before the next; the sms-sim roles pipeline only when a run is created), never a
  command inside a script. Verified on a throwaway server (redis-server 7.0.15,
  redis-py 8): 5,000 EVALSHAs of a script making 3 calls and 3,000 XREADGROUPs over 16
  pooled connections gave 8,000 reads (plus the INFO that read the count) against 23,001
  commands processed; and over 10 s of a real ``sms-sim run`` at x2, MONITOR (which
  marks a script's calls) saw 17,395 top-level commands and 83,489 inside scripts, while
  ``total_reads_processed`` grew by 17,409 (+0.08 %: 13 requests over 16 KiB, the
  producer's batches) and ``total_commands_processed`` by exactly the 100,884 of both.
  Off by: a pipeline is one read (as it is one round trip), a request over 16 KiB may
  take two or more, a new connection a few (its HELLO shows in the per-command
  figures). The end sample's own INFO is subtracted;
- per command: the calls of ``INFO commandstats``, per attempt; a ``*`` marks commands
  the checkout's Lua scripts call, whose counts include those calls;
- attempts and deliveries: from the monitor's plain lines (``attempts=``, ``sent=``),
  the lines read nearest the window's start and end, over the time between their reads;
- lateness: each sender's ``late`` in its heartbeat (its attempts' mean lateness over
  about the last second; the run's senders hash, read after the end sample), times S:
  simulated ms, mean and worst sender.

At x50 the window (about 10 to 25 s of wall time) holds the overflow provider's
scheduled outage (600 to 900 s simulated; at x20 it starts after the window): the other
35 senders make about 380 attempts per simulated second, random outages included,
below the cap's 400: meanwhile about 95 % of the cap is the most a run can reach.

Per attempt = the window's CPU (or reads) / (attempt rate x window length). The issue's
figures before the change are printed beside (process 218-238 us and Redis 57-62 us an
attempt at x10, 117-134 and 34-38 at x20; round trips 1.6-2.0 at x10, 0.75-1.04 at x20).

``--checkout DIR`` (repeatable) also runs another checkout's sms-sim (its ``.venv``:
``uv sync --frozen`` in it first), right after this tree's at each scale (paired);
``--checkout-only`` skips this tree. ``--extra ARGS`` is appended to the sms-sim command
line. ``--repeat K`` repeats the ladder, giving min-max ranges. ``--full`` runs the whole
alert once per checkout at ``--scale`` instead: wall time to exit, the simulated
completion and the predicted one of the final summary (``--json``), the exit code.

    uv run python benchmarks/timed_path.py [--scales 10 20 50] [--warmup 8] [--window 15]
        [--count 1000000] [--repeat K] [--checkout DIR] [--checkout-only] [--extra ARGS]
    uv run python benchmarks/timed_path.py --full [--scale 50] [--count 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import redis
import yaml

from benchmarks._figures import Figure, base_parser, log, markdown_table, print_table, report
from benchmarks._runs import delete_run, new_run, redis_target
from common.keys import RunKeys
from tests.processes import role_env
from tests.support import ROOT, sync_client

CONFIG = ROOT / "examples" / "national-alert.yaml"
TICK = os.sysconf("SC_CLK_TCK")
STOP_TIMEOUT = 30.0  # seconds after SIGINT before SIGKILL
START_TIMEOUT = 60.0  # seconds to the first attempt
TOP_COMMANDS = 8
TAIL = 200  # stderr lines kept
ERROR_TAIL = 40  # of them shown when sms-sim fails
LUA_CALL = re.compile(r"redis\.p?call\(\s*['\"](\w+)['\"]", re.IGNORECASE)
# The table before the change: scale -> (process us, Redis us, round trips).
BEFORE = {10.0: ("218-238", "57-62", "1.6-2.0"), 20.0: ("117-134", "34-38", "0.75-1.04")}


@dataclass(frozen=True)
class Code:
    """The sms-sim to run: a checkout's interpreter, run in that checkout."""

    label: str
    python: str
    tree: Path


def describe(tree: Path) -> str:
    """``name@commit``, ``+edits`` when tracked files differ from the commit."""
    git = ["git", "-C", str(tree)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    commit = head.stdout.strip() or "?"
    return f"{tree.name}@{commit}{'+edits' if dirty.stdout.strip() else ''}"


def codes(args: argparse.Namespace) -> list[Code]:
    found = [] if args.checkout_only else [Code(describe(ROOT), sys.executable, ROOT)]
    for given in args.checkout or []:
        tree = Path(given).resolve()
        python = tree / ".venv" / "bin" / "python"
        if not python.exists():
            raise SystemExit(f"{tree}: no .venv; run `uv sync --frozen` in it first")
        found.append(Code(describe(tree), str(python), tree))
    if not found:
        raise SystemExit("nothing to run: --checkout-only needs --checkout DIR")
    return found


def lua_commands(tree: Path) -> set[str]:
    """The commands the checkout's Lua scripts call by name (lower case)."""
    names: set[str] = set()
    for script in tree.glob("*/*.lua"):
        names.update(m.lower() for m in LUA_CALL.findall(script.read_text(encoding="utf-8")))
    return names


def write_config(source: Path, folder: Path, report_period: float) -> tuple[Path, float]:
    """A copy of ``source`` with ``report_period``; and its account cap (per simulated s)."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["report_period"] = report_period
    path = folder / "fleet.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    cap = float((data.get("account") or {}).get("max_rate") or 0.0)
    return path, cap


# -- the sms-sim process and its plain lines ------------------------------------------


@dataclass(frozen=True)
class Line:
    """One plain line of the monitor: when it was read, and its counts."""

    at: float  # time.monotonic() when read
    attempts: int
    sent: int
    total: int


def parse_line(text: str, at: float) -> Line | None:
    fields = dict(tok.split("=", 1) for tok in text.split() if "=" in tok)
    if "run" not in fields or "attempts" not in fields or "/" not in fields.get("sent", ""):
        return None
    sent, total = fields["sent"].split("/", 1)
    try:
        return Line(at, int(fields["attempts"]), int(sent), int(total))
    except ValueError:
        return None


class Sim:
    """A running ``python -m launcher run ...``; its stderr read by a thread."""

    def __init__(
        self, code: Code, argv: Sequence[str], env: dict[str, str], out: int | IO[str]
    ) -> None:
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [code.python, "-m", "launcher", "run", *argv],
            cwd=code.tree,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[Line] = []
        self.tail: deque[str] = deque(maxlen=TAIL)  # the final summary's 60-odd lines
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for text in self.process.stderr:
            line = parse_line(text, time.monotonic())
            if line is not None:
                self.lines.append(line)
            self.tail.append(text.rstrip())

    def failure(self, what: str) -> SystemExit:
        self.reader.join(timeout=5)
        tail = "\n".join(list(self.tail)[-ERROR_TAIL:])
        return SystemExit(f"sms-sim {what} (exit {self.process.poll()}):\n{tail}")

    def wait_attempts(self, timeout: float) -> None:
        """Until a plain line shows an attempt; SystemExit if it ends or takes too long."""
        deadline = time.monotonic() + timeout
        while not any(line.attempts > 0 for line in self.lines):
            if self.process.poll() is not None:
                raise self.failure("ended before its first attempt")
            if time.monotonic() > deadline:
                raise self.failure(f"made no attempt within {timeout:.0f} s")
            time.sleep(0.05)

    def running(self) -> None:
        if self.process.poll() is not None:
            raise self.failure("ended inside the window: raise --count")

    def stop(self) -> int:
        """SIGINT, then SIGKILL after STOP_TIMEOUT; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.reader.join(timeout=5)
        return code

    def nearest(self, at: float) -> Line:
        return min(self.lines, key=lambda line: abs(line.at - at))


def sim_argv(cfg: Path, scale: float, count: int, run: str, url: str) -> list[str]:
    argv = [str(cfg), "--time-scale", f"{scale:g}", "--count", str(count), "--plain"]
    return [*argv, "--seed", "1", "--run", run, "--redis-url", url]


# -- samples ---------------------------------------------------------------------------


def proc_stats() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, utime + stime + cutime + cstime in ticks) of every process."""
    stats: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        rest = text.rsplit(")", 1)[1].split()  # the name, in parentheses, may hold spaces
        stats[int(entry.name)] = (int(rest[1]), sum(int(v) for v in rest[11:15]))
    return stats


def tree_cpu(root: int) -> tuple[float, int]:
    """CPU seconds of ``root`` and its live descendants (reaped ones in their parents'
    cutime/cstime), and how many processes that is."""
    stats = proc_stats()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    todo, ticks, count = [root], 0, 0
    while todo:
        pid = todo.pop()
        if pid in stats:
            ticks, count = ticks + stats[pid][1], count + 1
        todo += children.get(pid, [])
    return ticks / TICK, count


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic()
    process: float  # CPU seconds of the sms-sim process tree
    processes: int
    redis_cpu: float  # used_cpu_user + used_cpu_sys
    reads: int  # total_reads_processed
    calls: dict[str, int]  # command -> calls, INFO commandstats


def sample(root: int, client: redis.Redis) -> Sample:
    at = time.monotonic()
    cpu, processes = tree_cpu(root)
    info: Any = client.info("cpu", "stats", "commandstats")
    calls = {k[len("cmdstat_") :]: int(v["calls"]) for k, v in info.items() if "cmdstat_" in k}
    redis_cpu = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return Sample(at, cpu, processes, redis_cpu, int(info["total_reads_processed"]), calls)


def lateness(client: redis.Redis, run: str) -> list[float]:
    """Each sender's heartbeat ``late`` (real seconds)."""
    beats: Any = client.hgetall(RunKeys(run).senders)
    found = []
    for raw in beats.values():
        try:
            found.append(float(json.loads(raw).get("late") or 0.0))
        except (ValueError, TypeError, AttributeError):
            continue
    return found


# -- one windowed trial ----------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    code: str
    scale: float
    cap: float  # attempts per real second the account allows
    attempts: float  # per real second, over the window
    delivered: float
    process_us: float  # CPU per attempt
    redis_us: float
    process_cores: float
    redis_cores: float
    round_trips: float  # per attempt
    commands: float  # per attempt, script-internal calls included
    per_command: dict[str, float]
    late_ms: tuple[float, float]  # mean and worst sender, simulated ms
    processes: int


@dataclass
class Settings:
    url: str
    count: int
    warmup: float
    window: float
    report_period: float
    config: Path
    extra: list[str] = field(default_factory=list)


def run_trial(code: Code, scale: float, opts: Settings) -> Trial:
    run = new_run("timed")
    client = sync_client(opts.url)
    with tempfile.TemporaryDirectory(prefix="sms-timed-") as tmp:
        cfg, cap = write_config(opts.config, Path(tmp), opts.report_period)
        argv = [*sim_argv(cfg, scale, opts.count, run, opts.url), *opts.extra]
        env = role_env(opts.url, run, log_level="WARNING")
        sim = Sim(code, argv, env, subprocess.DEVNULL)
        try:
            first, last, late = window(sim, client, run, opts)
        finally:
            sim.stop()
            delete_run(opts.url, run)
            client.close()
    return trial_of(sim, (first, last), late, label=code.label, scale=scale, cap=cap * scale)


def window(
    sim: Sim, client: redis.Redis, run: str, opts: Settings
) -> tuple[Sample, Sample, list[float]]:
    sim.wait_attempts(START_TIMEOUT)
    time.sleep(opts.warmup)
    sim.running()
    first = sample(sim.process.pid, client)
    time.sleep(opts.window)
    sim.running()
    last = sample(sim.process.pid, client)
    return first, last, lateness(client, run)


def trial_of(
    sim: Sim,
    ends: tuple[Sample, Sample],
    late: list[float],
    *,
    label: str,
    scale: float,
    cap: float,
) -> Trial:
    first, last = ends
    a, b = sim.nearest(first.at), sim.nearest(last.at)
    if b.at <= a.at or b.attempts <= a.attempts:
        raise sim.failure("printed no progress over the window")
    seconds = last.at - first.at
    attempt_rate = (b.attempts - a.attempts) / (b.at - a.at)
    attempts = attempt_rate * seconds
    calls = {k: v - first.calls.get(k, 0) for k, v in last.calls.items()}
    calls["info"] = calls.get("info", 0) - 1  # the end sample's own INFO
    late_ms = [v * scale * 1000 for v in late] or [float("nan")]
    return Trial(
        label,
        scale,
        cap,
        attempt_rate,
        (b.sent - a.sent) / (b.at - a.at),
        (last.process - first.process) / attempts * 1e6,
        (last.redis_cpu - first.redis_cpu) / attempts * 1e6,
        (last.process - first.process) / seconds,
        (last.redis_cpu - first.redis_cpu) / seconds,
        (last.reads - first.reads - 1) / attempts,
        sum(calls.values()) / attempts,
        {k: v / attempts for k, v in calls.items() if v > 0},
        (sum(late_ms) / len(late_ms), max(late_ms)),
        last.processes,
    )


def print_trial(trial: Trial, in_scripts: set[str]) -> None:
    print(
        f"\n{trial.code} x{trial.scale:g}: {trial.attempts:,.0f} attempts/s "
        f"({trial.attempts / trial.cap:.0%} of the cap's {trial.cap:,.0f}/s), "
        f"{trial.delivered:,.0f} delivered/s, late {trial.late_ms[0]:.1f} ms simulated "
        f"(worst sender {trial.late_ms[1]:.1f})"
    )
    print(
        f"  process CPU {trial.process_us:.1f} us/attempt ({trial.process_cores:.2f} cores, "
        f"{trial.processes} process(es)); Redis CPU {trial.redis_us:.1f} us/attempt "
        f"({trial.redis_cores:.2f} cores)"
    )
    print(
        f"  round trips {trial.round_trips:.3f}/attempt; commands {trial.commands:.3f}/attempt "
        "(script-internal included)"
    )
    top = sorted(trial.per_command.items(), key=lambda kv: -kv[1])[:TOP_COMMANDS]
    cells = [f"{name}{'*' if name in in_scripts else ''} {v:.3f}" for name, v in top]
    print(f"  per attempt: {', '.join(cells)}  (* also called inside Lua scripts)", flush=True)


# -- the ladder and its table ----------------------------------------------------------


def ladder(codes_: Sequence[Code], args: argparse.Namespace, opts: Settings) -> list[Trial]:
    trials: list[Trial] = []
    for repeat in range(args.repeat):
        for scale in args.scales:
            for code in codes_:
                log(f"{code.label} x{scale:g} (repeat {repeat + 1}/{args.repeat})")
                trial = run_trial(code, scale, opts)
                print_trial(trial, lua_commands(code.tree))
                trials.append(trial)
    return trials


def span(values: Iterable[float], spec: str) -> str:
    got = sorted(values)
    low, high = format(got[0], spec), format(got[-1], spec)
    return low if low == high else f"{low}-{high}"


HEADERS = (
    "code",
    "scale",
    "attempts/s",
    "of cap",
    "delivered/s",
    "process us/att",
    "Redis us/att",
    "round trips/att",
    "commands/att",
    "late ms (sim)",
)


def table_rows(trials: Sequence[Trial]) -> list[list[str]]:
    groups: dict[tuple[str, float], list[Trial]] = {}
    for t in trials:
        groups.setdefault((t.code, t.scale), []).append(t)
    rows = [group_row(code, scale, ts) for (code, scale), ts in groups.items()]
    for scale, (proc, red, trips) in BEFORE.items():
        rows.append(["issue: before", f"x{scale:g}", "-", "-", "-", proc, red, trips, "-", "-"])
    return rows


def group_row(code: str, scale: float, ts: Sequence[Trial]) -> list[str]:
    def of(get: Callable[[Trial], float], spec: str) -> str:
        return span((get(t) for t in ts), spec)

    return [
        code,
        f"x{scale:g}",
        of(lambda t: t.attempts, ",.0f"),
        of(lambda t: t.attempts / t.cap * 100, ".0f") + " %",
        of(lambda t: t.delivered, ",.0f"),
        of(lambda t: t.process_us, ".0f"),
        of(lambda t: t.redis_us, ".1f"),
        of(lambda t: t.round_trips, ".2f"),
        of(lambda t: t.commands, ".2f"),
        of(lambda t: t.late_ms[0], ".1f"),
    ]


def trial_figures(rows: Sequence[Sequence[str]]) -> list[Figure]:
    figures = []
    for row in rows:
        if row[0].startswith("issue"):
            continue
        before = BEFORE.get(float(row[1][1:]))
        target = f"before: {before[0]} / {before[1]} us, {before[2]}" if before else "-"
        measured = f"{row[5]} / {row[6]} us, {row[7]} round trips at {row[2]} attempts/s"
        figures.append(Figure(f"{row[0]} x{row[1][1:]}: process / Redis CPU", measured, target))
    return figures


def windowed(args: argparse.Namespace, opts: Settings) -> None:
    trials = ladder(codes(args), args, opts)
    rows = table_rows(trials)
    print()
    title = f"timed path per attempt, national alert, window {opts.window:g} s"
    print(f"== {title} (ranges: {args.repeat} repeat(s))")
    if args.markdown:
        print(markdown_table(HEADERS, rows))
    else:
        print_table(HEADERS, rows)
    report(title, trial_figures(rows), args)


# -- the whole alert (--full) ------------------------------------------------------------


@dataclass(frozen=True)
class Whole:
    code: str
    wall: float
    exit_code: int
    summary: dict[str, Any]
    final: list[str]  # the final summary's lines naming completion


def run_whole(code: Code, scale: float, opts: Settings, timeout: float) -> Whole:
    run = new_run("timed-full")
    with tempfile.TemporaryDirectory(prefix="sms-timed-") as tmp:
        cfg, _ = write_config(opts.config, Path(tmp), opts.report_period)
        argv = [*sim_argv(cfg, scale, opts.count, run, opts.url), "--json", *opts.extra]
        env = role_env(opts.url, run, log_level="WARNING")
        with (Path(tmp) / "summary.json").open("w+", encoding="utf-8") as out:
            sim = Sim(code, argv, env, out)
            exit_code = wait_whole(sim, timeout)
            wall = time.perf_counter() - sim.started
            out.seek(0)
            text = out.read()
    delete_run(opts.url, run)
    summary = json.loads(text.strip().splitlines()[-1]) if text.strip() else {}
    final = [s.strip() for s in sim.tail if s.startswith("run '") or "predicted completion" in s]
    return Whole(code.label, wall, exit_code, summary, final)


def wait_whole(sim: Sim, timeout: float) -> int:
    try:
        code = sim.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"not done after {timeout:.0f} s: stopping it")
        return sim.stop()
    sim.reader.join(timeout=5)
    return code


def whole_figure(whole: Whole, scale: float) -> Figure:
    s = whole.summary
    completion, predicted = s.get("elapsed"), s.get("predicted_completion")
    ratio = f" ({completion / predicted - 1:+.1%})" if completion and predicted else ""
    measured = (
        f"wall {whole.wall:,.1f} s, exit {whole.exit_code}; completion {completion} s "
        f"simulated, predicted {predicted} s{ratio}; sent {s.get('sent')}/{s.get('total')}, "
        f"{s.get('attempts')} attempts, state {s.get('state')}"
    )
    return Figure(
        f"{whole.code}: whole alert at x{scale:g}", measured, notes="; ".join(whole.final)
    )


def full(args: argparse.Namespace, opts: Settings) -> None:
    figures = []
    for code in codes(args):
        log(f"{code.label}: the whole alert, {opts.count:,} messages at x{args.scale:g}")
        whole = run_whole(code, args.scale, opts, args.timeout)
        figures.append(whole_figure(whole, args.scale))
        log(figures[-1].measured)
    report(f"the whole national alert at x{args.scale:g}", figures, args)


def parser() -> argparse.ArgumentParser:
    p = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--scales", nargs="+", type=float, default=[10.0, 20.0, 50.0])
    p.add_argument("--warmup", type=float, default=8.0, help="seconds before the window")
    p.add_argument("--window", type=float, default=15.0, help="seconds measured")
    p.add_argument("--count", type=int, default=1_000_000, help="messages of each run")
    p.add_argument("--repeat", type=int, default=1, help="runs of the ladder (ranges)")
    p.add_argument("--checkout", action="append", help="another checkout's sms-sim too")
    p.add_argument("--checkout-only", action="store_true", help="skip this tree's sms-sim")
    p.add_argument(
        "--extra", default="", help="arguments appended to sms-sim's (one word: --extra=--flag)"
    )
    p.add_argument("--config", type=Path, default=CONFIG, help="the fleet (YAML)")
    p.add_argument("--report-period", type=float, default=1.0, help="of the copied config")
    p.add_argument("--full", action="store_true", help="run the whole alert at --scale")
    p.add_argument("--scale", type=float, default=50.0, help="time scale of --full")
    p.add_argument("--timeout", type=float, default=1800.0, help="of a --full run (s)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    with redis_target(args.redis_url, args.redis_server) as target:
        opts = Settings(
            target.url,
            args.count,
            args.warmup,
            args.window,
            args.report_period,
            args.config.resolve(),
            shlex.split(args.extra),
        )
        (full if args.full else windowed)(args, opts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
