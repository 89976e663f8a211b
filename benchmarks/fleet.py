"""Fleet fidelity: does a fleet deliver its predicted rate, sum of c x (1 - f) / m?

For each fleet of issue 16 (failure rate 0.3), a run of N messages on a throwaway
redis-server, either in one ``sms-sim run`` process or as one ``sms-sender`` process per
sender (with ``sms-producer`` and ``sms-monitor``). The results stream is kept and read
afterwards:

- steady rate: deliveries per second between the 10th and the 90th percentile of the
  delivery times (the ramp-up and the tail left out), against the predicted rate;
- whole run: N / (last delivery - the run's creation), start-up and tail included,
  against N / predicted rate (what "how long does the alert take" asks);
- each sender's observed mean attempt time against its configured mean: its slots over
  its rate of attempt starts in the steady state (``benchmarks._results``), i.e. how long
  a slot really spent per attempt, slips of its schedule included; and the mean lateness
  of the attempts (``late``: how long after its intended end an attempt really ended,
  reported apart since the slots keep their own schedule).

``--code DIR [DIR ...]`` runs the roles of other checkouts (their ``.venv``): each fleet
runs once per checkout, one right after the other (paired), to measure the code before
and after a change on the same machine.

    uv run python benchmarks/fleet.py [--only NAME ...] [--n 100000] [--code DIR]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from benchmarks._figures import Figure, base_parser, log, report
from benchmarks._results import read_results
from benchmarks._runs import new_run, redis_target
from common.keys import RunKeys
from tests.processes import role_env
from tests.support import ROOT, sync_client

FAILURE_RATE = 0.3
RATE_TARGET = 0.95  # of the predicted rate, for fleets with a mean of 0.05 s or more
MEAN_TOLERANCE = 0.02


@dataclass(frozen=True)
class Fleet:
    senders: int
    slots: int
    mean: float
    processes: bool = False  # one sms-sender process per sender (else one sms-sim run)
    n: int | None = None  # messages (default: --n)

    @property
    def predicted(self) -> float:
        return self.senders * self.slots * (1 - FAILURE_RATE) / self.mean

    @property
    def targeted(self) -> bool:
        return self.mean >= 0.05

    def label(self) -> str:
        how = "processes" if self.processes else "one process"
        return f"{self.senders} x {self.slots} slots, mean {self.mean:g} s ({how})"


FLEETS = {
    "20x50-0.2": Fleet(20, 50, 0.2),
    "20x50-0.2-procs": Fleet(20, 50, 0.2, processes=True),
    "20x50-0.05": Fleet(20, 50, 0.05),
    "1x100-0.01": Fleet(1, 100, 0.01),
    "1x1-0.001": Fleet(1, 1, 0.001, n=20_000),
    "10x100-1": Fleet(10, 100, 1.0),
    "1x1000-0.1": Fleet(1, 1000, 0.1),
}


@dataclass
class Measured:
    rate: float  # steady state
    whole: float  # N / (last delivery - run created)
    means: dict[str, tuple[float, float]]  # sender -> (configured, observed)
    late: float  # mean lateness of an attempt, all senders (0 where not recorded)
    wall: float


def python_of(code: Path) -> str:
    venv = code / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def config_text(fleet: Fleet, n: int) -> str:
    lines = [f"num_messages: {n}", "report_period: 2", "senders:"]
    profile = (
        f"  - {{mean_time: {fleet.mean}, failure_rate: {FAILURE_RATE}, concurrency: {fleet.slots}}}"
    )
    return "\n".join([*lines, *[profile] * fleet.senders, ""])


def run_fleet(fleet: Fleet, n: int, url: str, code: Path, timeout: float) -> Measured:
    run = new_run("fleet")
    env = role_env(url, run, {"MONITOR_KEEP_RESULTS": "1", "LOG_LEVEL": "WARNING"})
    python = python_of(code)
    with tempfile.TemporaryDirectory(prefix="sms-fleet-") as tmp:
        config = Path(tmp) / "fleet.yaml"
        config.write_text(config_text(fleet, n), encoding="utf-8")
        started = time.perf_counter()
        if fleet.processes:
            _as_processes(python, code, env, config, fleet, timeout)
        else:
            _one_process(python, code, env, config, timeout)
        wall = time.perf_counter() - started
    client = sync_client(url)
    try:
        return _measure(client, RunKeys(run), fleet, wall)
    finally:
        client.delete(*RunKeys(run).all())
        client.close()


def _one_process(python: str, code: Path, env: dict[str, str], cfg: Path, timeout: float) -> None:
    args = [python, "-m", "launcher", "run", str(cfg), "--plain"]
    done = subprocess.run(
        args, cwd=code, env=env, capture_output=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        tail = done.stderr.decode()[-2000:]
        raise SystemExit(f"sms-sim run exited {done.returncode}:\n{tail}")


def _as_processes(  # noqa: PLR0917
    python: str, code: Path, env: dict[str, str], cfg: Path, fleet: Fleet, timeout: float
) -> None:
    def start(module: str, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [python, "-m", module, *args],
            cwd=code,
            env={**env, "SMS_CONFIG": str(cfg)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    monitor = start("monitor", "--plain")
    senders = [start("sender", "--name", f"gw-{i}") for i in range(fleet.senders)]
    producer = start("producer")
    for proc in (producer, *senders, monitor):
        _, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise SystemExit(f"a role exited {proc.returncode}:\n{err.decode()[-2000:]}")


def _measure(client: redis.Redis, keys: RunKeys, fleet: Fleet, wall: float) -> Measured:
    got = read_results(client, keys)
    whole = len(got.delivered) / max(got.delivered)
    means = {s: (fleet.mean, got.observed_mean(s, fleet.slots)) for s in got.starts}
    return Measured(got.steady_rate(), whole, means, got.mean_late, wall)


def figures(name: str, fleet: Fleet, m: Measured) -> list[Figure]:
    ratio = m.rate / fleet.predicted
    worst = max(m.means.values(), key=lambda cm: abs(cm[1] - cm[0]) / cm[0])
    drift = (worst[1] - worst[0]) / worst[0]
    spread = sorted((obs - cfg) / cfg for cfg, obs in m.means.values())
    return [
        Figure(
            f"{name}: rate, {fleet.label()}",
            f"{m.rate:,.0f} msg/s = {ratio:.1%} of {fleet.predicted:,.0f}",
            target=f">= {RATE_TARGET:.0%}" if fleet.targeted else "-",
            passed=ratio >= RATE_TARGET if fleet.targeted else None,
            value=ratio,
            notes=f"wall time {m.wall:.1f} s",
        ),
        Figure(
            f"{name}: whole run (start-up and tail included)",
            f"{m.whole:,.0f} msg/s = {m.whole / fleet.predicted:.1%}",
            value=m.whole / fleet.predicted,
        ),
        Figure(
            f"{name}: observed mean attempt time",
            f"worst {drift:+.1%} (senders {spread[0]:+.1%} .. {spread[-1]:+.1%})",
            target=f"within {MEAN_TOLERANCE:.0%}" if fleet.targeted else "-",
            passed=abs(drift) <= MEAN_TOLERANCE if fleet.targeted else None,
            value=drift,
        ),
        Figure(
            f"{name}: mean lateness of an attempt",
            f"{m.late * 1000:.1f} ms ({m.late / fleet.mean:.1%} of the mean)",
            value=m.late,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--n", type=int, default=100_000, help="messages per fleet")
    parser.add_argument("--only", nargs="+", choices=sorted(FLEETS), default=None)
    parser.add_argument(
        "--code", type=Path, nargs="+", default=[ROOT], help="checkouts whose roles run"
    )
    parser.add_argument("--timeout", type=float, default=900, help="per fleet (s)")
    args = parser.parse_args(argv)
    results: list[Figure] = []
    with redis_target(args.redis_url, args.redis_server) as target:
        for name in args.only or list(FLEETS):
            fleet = FLEETS[name]
            n = fleet.n or args.n
            for code in args.code:
                label = name if len(args.code) == 1 else f"{name} [{code.name}]"
                log(f"{label}: {fleet.label()}, {n:,} messages, predicted {fleet.predicted:,.0f}/s")
                measured = run_fleet(fleet, n, target.url, code.resolve(), args.timeout)
                got = figures(label, fleet, measured)
                log(f"{label}: " + "; ".join(figure.measured for figure in got))
                results += got
    report(f"fleet fidelity ({', '.join(str(c) for c in args.code)})", results, args)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
