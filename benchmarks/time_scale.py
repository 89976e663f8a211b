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
  same run at the ladder's first scale (the reference; the analytic prediction, N / sum of
  c x (1 - f) / m, is shown beside: it leaves out the run's tail, about 1 % here).

The largest faithful scale is the last S of the ladder before the first that fails.
Fleets: the seed's example fleet (``config.yaml``, 20,000 messages) and a large one (50
gateways x 20 slots at a mean of 2 s, failure rate 0.1, 1,000,000 messages); the wall
time of each run is reported, the large fleet's at its largest faithful scale being the
answer to "how long does simulating a 1M alert take".

A third fleet, ``national`` (``examples/national-alert.yaml``, 100,000 messages, ladder
x5, 10, 20, 30, 50, 75, 100), is paced and capped rather than slot-bound: it is judged by
its attempt rates, completion and lateness against x5 over ``--repeat`` runs per scale
(see ``benchmarks/_national.py``).

    uv run python benchmarks/time_scale.py [--only example large national]
        [--n-example 20000] [--n-large 1000000] [--n-national 100000]
        [--start S | --scales S1 S2 ...] [--workers N] [--seed 1] [--repeat 1]
        [--no-random-outages]

``--scales``: these scales instead of the ladder (the first is the reference), each run
even after an unfaithful one. ``--workers``: passed to every ``sms-sim run`` (default: not
passed, sms-sim's own). ``--repeat K``: each scale of the national fleet K times, seeds
``seed + 1000 k`` (the example and large fleets run once per scale).
``--no-random-outages``: the national fleet without ``mtbf``/``mttr``: its completion
then varies little from run to run, so 2 % can be judged on a few runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from benchmarks import _national as national
from benchmarks._figures import Figure, base_parser, log, report
from benchmarks._national import SimOptions, launch
from benchmarks._results import read_results
from benchmarks._runs import redis_target
from common.keys import RunKeys
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

    def faithful(self, reference: Trial) -> bool:
        return (
            abs(self.worst_mean) <= TOLERANCE
            and abs(self.completion / reference.completion - 1) <= TOLERANCE
        )


def run_trial(url: str, fleet: Fleet, n: int, scale: float, options: SimOptions) -> Trial:
    config = {"num_messages": n, "report_period": 10, "senders": fleet.profiles}
    launched = launch(url, fleet.name, config, scale, options)
    client = sync_client(url)
    keys = RunKeys(launched.run)
    try:
        return _measure(client, keys, fleet, scale, launched.wall)
    finally:
        client.delete(*keys.all())
        client.close()


def _measure(client: Any, keys: RunKeys, fleet: Fleet, scale: float, wall: float) -> Trial:
    got = read_results(client, keys, scale)
    worst = 0.0
    for i, name in enumerate(sorted(got.starts)):
        profile = fleet.profiles[_index(name, i)]
        observed = got.observed_mean(name, int(profile.get("concurrency", 1)))
        drift = observed / float(profile["mean_time"]) - 1
        worst = drift if abs(drift) > abs(worst) else worst
    return Trial(scale, max(got.delivered), wall, worst, got.mean_late)


def _index(name: str, fallback: int) -> int:
    """A sender's profile: sms-sim run names them host-pid-N, N from 1."""
    last = name.rsplit("-", 1)[-1]
    return int(last) - 1 if last.isdigit() else fallback


def search(
    url: str, fleet: Fleet, n: int, scales: Sequence[float], options: SimOptions, *, ladder: bool
) -> tuple[list[Trial], float]:
    """Trials at ``scales``; on the ladder, until the first unfaithful one."""
    predicted = n / fleet.predicted
    trials: list[Trial] = []
    for scale in scales:
        log(f"{fleet.name}: {n:,} messages at x{scale:g} (predicted {predicted:,.0f} s simulated)")
        trial = run_trial(url, fleet, n, scale, options)
        trials.append(trial)
        log(
            f"   completion {trial.completion:,.1f} s simulated "
            f"({trial.completion / trials[0].completion - 1:+.1%} of the first), worst sender "
            f"mean {trial.worst_mean:+.2%}, lateness {trial.late * 1000:.1f} ms simulated, "
            f"wall {trial.wall:.1f} s"
        )
        if ladder and not trial.faithful(trials[0]):
            break
    return trials, predicted


def figures(fleet: Fleet, n: int, trials: list[Trial], predicted: float) -> list[Figure]:
    reference = trials[0]
    faithful = [t for t in trials if t.faithful(reference)]
    best = faithful[-1] if faithful else None
    rows = [
        Figure(
            f"{fleet.name} (N={n:,}) at x{t.scale:g}",
            f"completion {t.completion:,.0f} s simulated "
            f"({t.completion / reference.completion - 1:+.1%} of x{reference.scale:g}, "
            f"{t.completion / predicted - 1:+.1%} of N / rate), worst "
            f"mean {t.worst_mean:+.2%}, lateness {t.late * 1000:.0f} ms, wall {t.wall:.0f} s",
            target="within 2 %",
            passed=t.faithful(reference),
        )
        for t in trials
    ]
    rows.append(
        Figure(
            f"{fleet.name}: largest faithful time scale",
            f"x{best.scale:g}: {n:,} messages, {best.completion:,.0f} s simulated in "
            f"{best.wall:,.0f} s of wall time"
            if best
            else "none",
            value=best.scale if best else None,
        )
    )
    return rows


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    fleets = ["example", "large", "national"]
    parser.add_argument("--only", nargs="+", choices=fleets, default=None)
    parser.add_argument("--n-example", type=int, default=20_000)
    parser.add_argument("--n-large", type=int, default=1_000_000)
    parser.add_argument("--n-national", type=int, default=100_000)
    parser.add_argument(
        "--no-random-outages",
        action="store_true",
        help="national fleet without mtbf/mttr (completion then varies little between runs)",
    )
    parser.add_argument(
        "--start",
        type=float,
        default=None,
        help="first scale of the ladder (default: 10; 5 national)",
    )
    parser.add_argument(
        "--scales", type=float, nargs="+", default=None, help="these scales, not the ladder"
    )
    parser.add_argument("--workers", type=int, default=None, help="sms-sim run --workers")
    parser.add_argument("--seed", type=int, default=1, help="sms-sim run --seed (default 1)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per scale, national fleet (seeds differ)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or any(s <= 0 for s in args.scales or ()):
        parser.error("--repeat must be at least 1 and every --scales value above 0")
    return args


def scales_of(args: argparse.Namespace, ladder: Sequence[float], start: float) -> list[float]:
    if args.scales:
        return list(args.scales)
    first = start if args.start is None else args.start
    return [s for s in ladder if s >= first]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    options = SimOptions(args.seed, args.workers)
    ladder = not args.scales
    wanted = set(args.only or ["example", "large", "national"])
    results: list[Figure] = []
    with redis_target(args.redis_url, args.redis_server) as target:
        for fleet, n in ((example_fleet(), args.n_example), (large_fleet(), args.n_large)):
            if fleet.name not in wanted:
                continue
            scales = scales_of(args, LADDER, 10)
            trials, predicted = search(target.url, fleet, n, scales, options, ladder=ladder)
            results += figures(fleet, n, trials, predicted)
        if "national" in wanted:
            scales = scales_of(args, national.LADDER, national.LADDER[0])
            levels, verdicts = national.search(
                target.url,
                args.n_national,
                scales,
                options,
                args.repeat,
                ladder=ladder,
                random_outages=not args.no_random_outages,
            )
            results += national.figures(args.n_national, levels, verdicts)
    report("fidelity under compression", results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
