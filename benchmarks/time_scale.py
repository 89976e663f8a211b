"""Fidelity under compression: the largest time scale at which a fleet's simulation stays
faithful.

For a fleet, runs ``sms-sim run --time-scale S`` (one process, on a throwaway
redis-server) for S up a ladder, and per run checks:

- every sender's observed mean attempt time within 2 % of its configured mean: its slots
  over its rate of attempt starts in the steady state (between the 10th and the 90th
  percentile of the delivery times), i.e. how long a slot really spent per attempt on
  the simulated clock, slips of the schedule included (an attempt's recorded
  ``duration`` is its drawn delay; its lateness, the simulator's own error, is reported
  beside: it shifts recorded times, and stretches the schedule only when the process
  cannot keep up);
- the simulated completion time (last delivery, from the run's start) within 2 % of the
  analytic prediction, N / sum of c x (1 - f) / m.

The largest faithful scale is the last S of the ladder before the first that fails.
Fleets: the seed's example fleet (``config.yaml``) and a large one (50 gateways x 20 slots
at a mean of 2 s, failure rate 0.1), with N messages each; ``--confirm-n`` runs the large
fleet once more at its largest faithful scale with that many messages (1M by default),
timing the whole simulation in wall time.

    uv run python benchmarks/time_scale.py [--only example large] [--n-example 20000]
        [--n-large 200000] [--confirm-n 1000000]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmarks._figures import Figure, base_parser, log, report
from benchmarks._runs import new_run, redis_target
from common.keys import RunKeys
from tests.processes import role_env
from tests.support import ROOT, sync_client

TOLERANCE = 0.02
LADDER = (1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000)


@dataclass(frozen=True)
class Fleet:
    name: str
    profiles: list[dict[str, float]]  # mean_time, failure_rate, concurrency

    @property
    def predicted(self) -> float:
        """Messages per simulated second, sum of c x (1 - f) / m."""
        return sum(
            p.get("concurrency", 1) * (1 - p["failure_rate"]) / p["mean_time"]
            for p in self.profiles
        )


def example_fleet() -> Fleet:
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    return Fleet("example", data["senders"])


def large_fleet() -> Fleet:
    gateway = {"mean_time": 2.0, "failure_rate": 0.1, "concurrency": 20}
    return Fleet("large", [dict(gateway) for _ in range(50)])


@dataclass
class Trial:
    scale: float
    completion: float  # simulated seconds, run start to the last delivery
    wall: float  # real seconds of the whole sms-sim run
    worst_mean: float  # worst sender: (observed - configured) / configured
    late: float  # mean lateness of an attempt, simulated seconds

    def faithful(self, predicted_completion: float) -> bool:
        return (
            abs(self.worst_mean) <= TOLERANCE
            and abs(self.completion / predicted_completion - 1) <= TOLERANCE
        )


def run_trial(url: str, fleet: Fleet, n: int, scale: float, keep: bool = True) -> Trial:
    run = new_run(f"scale-{fleet.name}")
    env = role_env(url, run, {"MONITOR_KEEP_RESULTS": "1" if keep else "0"}, log_level="WARNING")
    config = {"num_messages": n, "report_period": 10, "senders": fleet.profiles}
    with tempfile.TemporaryDirectory(prefix="sms-scale-") as tmp:
        path = Path(tmp) / "fleet.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        args = [sys.executable, "-m", "launcher", "run", str(path), "--plain", "--seed", "1"]
        args += ["--time-scale", str(scale)]
        started = time.perf_counter()
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, check=False)
        wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sms-sim run exited {done.returncode}:\n{done.stderr.decode()[-2000:]}")
    client = sync_client(url)
    try:
        return _measure(client, RunKeys(run), fleet, scale, wall, keep)
    finally:
        client.delete(*RunKeys(run).all())
        client.close()


def _measure(  # noqa: PLR0917
    client: Any, keys: RunKeys, fleet: Fleet, scale: float, wall: float, keep: bool
) -> Trial:
    created = float(client.hget(keys.meta, "created"))
    starts: dict[str, list[float]] = defaultdict(list)  # simulated start of each attempt
    delivered: list[float] = []
    late, attempts = 0.0, 0
    cursor = "-"
    while keep:
        entries: Any = client.xrange(keys.results, min=cursor, count=20_000)
        if not entries:
            break
        for _, f in entries:
            at = (float(f["ts"]) - created) * scale
            lateness = float(f.get("late", 0.0))
            starts[f["sender"]].append(at - lateness - float(f["duration"]))
            late, attempts = late + lateness, attempts + 1
            if f["ok"] == "1" and "dup" not in f:
                delivered.append(at)
        cursor = "(" + entries[-1][0]
    if not keep:
        return Trial(scale, (_last_from_checkpoint(client, keys) - created) * scale, wall, 0, 0)
    delivered.sort()
    t10, t90 = delivered[len(delivered) // 10], delivered[9 * len(delivered) // 10]
    worst = 0.0
    for i, (name, times) in enumerate(sorted(starts.items())):
        profile = fleet.profiles[_index(name, i)]
        in_window = sum(1 for t in times if t10 <= t < t90)
        observed = profile.get("concurrency", 1) * (t90 - t10) / in_window
        drift = observed / float(profile["mean_time"]) - 1
        worst = drift if abs(drift) > abs(worst) else worst
    return Trial(scale, delivered[-1], wall, worst, late / attempts)


def _last_from_checkpoint(client: Any, keys: RunKeys) -> float:
    saved = client.hget(keys.monitor, "stats")
    return float(json.loads(saved)["last_ts"]) if saved else 0.0


def _index(name: str, fallback: int) -> int:
    """A sender's profile: sms-sim run names them host-pid-N, N from 1."""
    last = name.rsplit("-", 1)[-1]
    return int(last) - 1 if last.isdigit() else fallback


def search(url: str, fleet: Fleet, n: int, start: int) -> tuple[list[Trial], float]:
    """Trials up the ladder from ``start`` until the first unfaithful one."""
    predicted = n / fleet.predicted
    trials: list[Trial] = []
    for scale in (s for s in LADDER if s >= start):
        log(f"{fleet.name}: {n:,} messages at x{scale} (predicted {predicted:,.0f} s simulated)")
        trial = run_trial(url, fleet, n, scale)
        log(
            f"   completion {trial.completion:,.1f} s simulated "
            f"({trial.completion / predicted - 1:+.1%}), worst sender mean "
            f"{trial.worst_mean:+.2%} (lateness {trial.late * 1000:.1f} ms simulated), "
            f"wall {trial.wall:.1f} s"
        )
        trials.append(trial)
        if not trial.faithful(predicted):
            break
    return trials, predicted


def figures(fleet: Fleet, n: int, trials: list[Trial], predicted: float) -> list[Figure]:
    faithful = [t for t in trials if t.faithful(predicted)]
    best = faithful[-1] if faithful else None
    rows = [
        Figure(
            f"{fleet.name} (N={n:,}) at x{t.scale:g}",
            f"completion {t.completion:,.0f} s simulated ({t.completion / predicted - 1:+.1%}), "
            f"worst mean {t.worst_mean:+.2%}, lateness {t.late * 1000:.1f} ms, "
            f"wall {t.wall:.0f} s",
            target="within 2 %",
            passed=t.faithful(predicted),
        )
        for t in trials
    ]
    rows.append(
        Figure(
            f"{fleet.name}: largest faithful time scale",
            f"x{best.scale:g} ({best.wall:.0f} s of wall time)" if best else "none",
            value=best.scale if best else None,
        )
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--only", nargs="+", choices=["example", "large"], default=None)
    parser.add_argument("--n-example", type=int, default=20_000)
    parser.add_argument("--n-large", type=int, default=200_000)
    parser.add_argument("--start", type=int, default=5, help="first scale of the ladder")
    parser.add_argument("--confirm-n", type=int, default=1_000_000, help="0: no confirm run")
    args = parser.parse_args(argv)
    results: list[Figure] = []
    with redis_target(args.redis_url, args.redis_server) as target:
        for fleet, n in ((example_fleet(), args.n_example), (large_fleet(), args.n_large)):
            if args.only and fleet.name not in args.only:
                continue
            trials, predicted = search(target.url, fleet, n, args.start)
            results += figures(fleet, n, trials, predicted)
            faithful = [t for t in trials if t.faithful(predicted)]
            if fleet.name == "large" and faithful and args.confirm_n:
                results.append(confirm(target.url, fleet, args.confirm_n, faithful[-1].scale))
    report("fidelity under compression", results, args)
    return 0


def confirm(url: str, fleet: Fleet, n: int, scale: float) -> Figure:
    """The large fleet at its largest faithful scale, N messages: how long it takes."""
    log(f"{fleet.name}: confirm {n:,} messages at x{scale:g}")
    trial = run_trial(url, fleet, n, scale, keep=False)
    predicted = n / fleet.predicted
    return Figure(
        f"{fleet.name}: {n:,} messages at x{scale:g}",
        f"{trial.completion:,.0f} s simulated ({trial.completion / predicted - 1:+.1%} of "
        f"{predicted:,.0f} predicted) in {trial.wall:,.0f} s of wall time",
        target="within 2 %",
        passed=abs(trial.completion / predicted - 1) <= TOLERANCE,
    )


if __name__ == "__main__":
    sys.exit(main())
