"""The national-alert fleet of ``time_scale.py`` (``examples/national-alert.yaml``), and
launching one ``sms-sim run`` (for every fleet of that script).

Its senders are paced (``max_rate``), share an account cap, back off between retries and
go through outages, so a slot's observed mean attempt time says nothing about fidelity.
Each scale is run ``--repeat`` times (seeds ``seed``, ``seed + 1000``, ...; the same seeds
at every scale) and compared with the first scale (the reference):

- attempt rate: attempt starts per simulated second in the steady state (between the
  10th and the 90th percentile of the delivery times), of the fleet and of each group
  (primary: senders 1-20, secondary: 21-35, overflow: 36-40); the mean over the runs
  within 2 % of the reference's mean. Each sender's rate is compared with the same
  sender's (by config order) too, the worst shown as information only: shares of a
  first-come-first-served cap are noisy;
- simulated completion (the last delivery, from the run's start): the mean over the runs
  within max(2 %, the reference's own spread, (max - min) / mean), as random outages
  make single runs differ by chance;
- lateness (the results' ``late``, simulated seconds): the mean within 2 % of the
  fleet's shortest configured mean attempt time (the monitor's own "compressed too far"
  threshold); the p99 is shown beside.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from benchmarks._figures import Figure, log
from benchmarks._runs import delete_run, new_run
from common.keys import RunKeys
from tests.processes import role_env
from tests.support import ROOT, sync_client

TOLERANCE = 0.02
LADDER = (5, 10, 20, 30, 50, 75, 100)
CONFIG = ROOT / "examples" / "national-alert.yaml"
GROUPS = {"primary": range(20), "secondary": range(20, 35), "overflow": range(35, 40)}
SEED_STRIDE = 1000  # between repeated runs' seeds: sender i of a run is seeded seed + i


@dataclass(frozen=True)
class SimOptions:
    """What every ``sms-sim run`` of the benchmark is given."""

    seed: int = 1
    workers: int | None = None  # None: sms-sim's default (the machine's cores)


@dataclass
class Launched:
    run: str
    wall: float  # real seconds of the whole sms-sim run
    stdout: str


def launch(
    url: str, name: str, config: dict[str, Any], scale: float, options: SimOptions
) -> Launched:
    """One ``sms-sim run --time-scale scale --json`` of ``config``, results kept."""
    run = new_run(f"scale-{name}")
    env = role_env(url, run, {"MONITOR_KEEP_RESULTS": "1"}, log_level="WARNING")
    with tempfile.TemporaryDirectory(prefix="sms-scale-") as tmp:
        path = Path(tmp) / "fleet.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        args = [sys.executable, "-m", "launcher", "run", str(path), "--plain", "--json"]
        args += ["--seed", str(options.seed), "--time-scale", f"{scale:g}"]
        if options.workers is not None:
            args += ["--workers", str(options.workers)]
        started = time.perf_counter()
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, check=False)
        wall = time.perf_counter() - started
    if done.returncode != 0:
        delete_run(url, run)
        raise SystemExit(f"sms-sim run exited {done.returncode}:\n{done.stderr.decode()[-2000:]}")
    return Launched(run, wall, done.stdout.decode())


def national_config(n: int, random_outages: bool = True) -> dict[str, Any]:
    """The example's fleet with ``n`` messages; without its random outages (``mtbf`` and
    ``mttr``: completion then varies little from run to run) when asked."""
    config: dict[str, Any] = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    config.pop("time_scale", None)  # given per run
    config.update(num_messages=n, report_period=10)
    if not random_outages:
        for sender in config["senders"]:
            sender.pop("mtbf", None)
            sender.pop("mttr", None)
    if len(config["senders"]) != max(GROUPS["overflow"]) + 1:
        raise SystemExit(f"{CONFIG}: expected 40 senders (the groups of {__name__})")
    return config


@dataclass
class Stream:
    """A run's results, simulated seconds from its start (as in ``_results.py``)."""

    starts: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    delivered: list[float] = field(default_factory=list)
    lates: list[float] = field(default_factory=list)


def sender_index(name: str) -> int:
    """A sender's place in the config: sms-sim run names them NAME-1, NAME-2, ..."""
    return int(name.rsplit("-", 1)[-1]) - 1


def read_stream(client: Any, keys: RunKeys, scale: float) -> Stream:
    created = float(client.hget(keys.meta, "created"))
    got, cursor = Stream(), "-"
    while entries := client.xrange(keys.results, min=cursor, count=20_000):
        for _, f in entries:
            at = (float(f["ts"]) - created) * scale
            late = float(f.get("late", 0.0))
            got.starts[sender_index(f["sender"])].append(at - late - float(f["duration"]))
            got.lates.append(late)
            if f["ok"] == "1" and "dup" not in f:
                got.delivered.append(at)
        cursor = "(" + entries[-1][0]
    return got


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[round(q * (len(ordered) - 1))] if ordered else 0.0


@dataclass
class Run:
    """One sms-sim run of the fleet."""

    seed: int
    completion: float  # simulated seconds, run start to the last delivery
    wall: float
    rates: list[float]  # per sender (config order): attempts per simulated second, steady
    late_mean: float  # simulated seconds
    late_p99: float
    predicted: float | None  # the monitor's predicted_completion

    def rate(self, group: str = "fleet") -> float:
        indices = GROUPS.get(group, range(len(self.rates)))
        return sum(self.rates[i] for i in indices)


Metric = Callable[[Run], float]  # one figure of a run


def measure(stream: Stream, size: int, launched: Launched, seed: int) -> Run:
    t10, t90 = quantile(stream.delivered, 0.1), quantile(stream.delivered, 0.9)
    rates = [sum(1 for t in stream.starts[i] if t10 <= t < t90) / (t90 - t10) for i in range(size)]
    return Run(
        seed,
        completion=max(stream.delivered),
        wall=launched.wall,
        rates=rates,
        late_mean=sum(stream.lates) / len(stream.lates),
        late_p99=quantile(stream.lates, 0.99),
        predicted=_predicted(launched.stdout),
    )


def _predicted(stdout: str) -> float | None:
    lines = stdout.strip().splitlines()
    try:
        value = json.loads(lines[-1]).get("predicted_completion") if lines else None
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def one_run(url: str, config: dict[str, Any], scale: float, options: SimOptions) -> Run:
    launched = launch(url, "national", config, scale, options)
    client = sync_client(url)
    keys = RunKeys(launched.run)
    try:
        stream = read_stream(client, keys, scale)
        return measure(stream, len(config["senders"]), launched, options.seed)
    finally:
        client.delete(*keys.all())
        client.close()


@dataclass
class Scale:
    """The runs at one scale."""

    scale: float
    runs: list[Run]

    def mean(self, figure: Metric) -> float:
        return sum(figure(r) for r in self.runs) / len(self.runs)

    def spread(self, figure: Metric) -> float:
        """(max - min) / mean over the runs."""
        values = [figure(r) for r in self.runs]
        mean = self.mean(figure)
        return (max(values) - min(values)) / mean if mean else 0.0

    def shown(self, figure: Metric, unit: str = "", factor: float = 1.0) -> str:
        """The mean, and the range when repeated: ``270 s [265-275]``."""
        values = [figure(r) * factor for r in self.runs]
        text = f"{sum(values) / len(values):,.1f}{unit}"
        return text + (f" [{min(values):,.1f}-{max(values):,.1f}]" if len(values) > 1 else "")


def completion(run: Run) -> float:
    return run.completion


def group_rate(group: str) -> Metric:
    return lambda run: run.rate(group)


def sender_rate(index: int) -> Metric:
    return lambda run: run.rates[index]


@dataclass
class Verdict:
    """One scale against the reference: relative differences of the means."""

    completion: float
    allowed: float  # for the completion: max(2 %, the reference's spread)
    rates: dict[str, float]  # the fleet and each group
    worst_sender: float  # information only
    late_mean: float
    late_limit: float

    @property
    def faithful(self) -> bool:
        return (
            abs(self.completion) <= self.allowed
            and all(abs(d) <= TOLERANCE for d in self.rates.values())
            and self.late_mean <= self.late_limit
        )


def compare(level: Scale, reference: Scale, late_limit: float) -> Verdict:
    def diff(figure: Metric) -> float:
        return level.mean(figure) / reference.mean(figure) - 1

    senders = [diff(sender_rate(i)) for i in range(len(level.runs[0].rates))]
    return Verdict(
        diff(completion),
        max(TOLERANCE, reference.spread(completion)),
        {group: diff(group_rate(group)) for group in ("fleet", *GROUPS)},
        max(senders, key=abs),
        level.mean(lambda r: r.late_mean),
        late_limit,
    )


def late_limit(config: dict[str, Any]) -> float:
    """2 % of the shortest configured mean attempt time, simulated seconds."""
    return TOLERANCE * min(float(s["mean_time"]) for s in config["senders"])


def describe_run(run: Run) -> str:
    groups = ", ".join(f"{g} {run.rate(g):.1f}" for g in GROUPS)
    predicted = f"{run.predicted:,.0f} s" if run.predicted is not None else "-"
    return (
        f"   seed {run.seed}: completion {run.completion:,.1f} s simulated (monitor predicts "
        f"{predicted}), attempts {run.rate():.1f}/s simulated ({groups}), lateness "
        f"{run.late_mean * 1000:.1f} ms mean, {run.late_p99 * 1000:.1f} ms p99, "
        f"wall {run.wall:.1f} s"
    )


def describe(level: Scale, reference: Scale, verdict: Verdict) -> str:
    ref = f"x{reference.scale:g}"
    rates = ", ".join(f"{g} {d:+.2%}" for g, d in verdict.rates.items())
    return (
        f"completion {level.shown(completion, ' s')} ({verdict.completion:+.2%} of {ref}, "
        f"allowed {verdict.allowed:.1%}; {ref} spread {reference.spread(completion):.1%}); "
        f"attempt rate {level.shown(group_rate('fleet'), '/s')}: {rates} (worst sender "
        f"{verdict.worst_sender:+.1%}{_spreads(reference)}); lateness "
        f"{level.shown(lambda r: r.late_mean, ' ms', 1000)} mean, "
        f"{level.shown(lambda r: r.late_p99, ' ms', 1000)} p99; "
        f"wall {level.shown(lambda r: r.wall, ' s')}"
    )


def _spreads(reference: Scale) -> str:
    """The reference's own spreads of the rates, when it was repeated."""
    if len(reference.runs) < 2:
        return ""
    spreads = (f"{g} {reference.spread(group_rate(g)):.1%}" for g in ("fleet", *GROUPS))
    return f"; x{reference.scale:g} spreads: " + ", ".join(spreads)


def search(
    url: str,
    n: int,
    scales: Sequence[float],
    options: SimOptions,
    repeat: int,
    *,
    ladder: bool,
    random_outages: bool = True,
) -> tuple[list[Scale], list[Verdict]]:
    """Each scale ``repeat`` times; on the ladder, until the first unfaithful scale."""
    config = national_config(n, random_outages)
    limit = late_limit(config)
    levels: list[Scale] = []
    verdicts: list[Verdict] = []
    for scale in scales:
        log(f"national: {n:,} messages at x{scale:g}, {repeat} run(s)")
        runs = []
        for r in range(repeat):
            seeded = replace(options, seed=options.seed + r * SEED_STRIDE)
            runs.append(one_run(url, config, scale, seeded))
            log(describe_run(runs[-1]))
        levels.append(Scale(scale, runs))
        verdicts.append(compare(levels[-1], levels[0], limit))
        log(f"   x{scale:g}: {describe(levels[-1], levels[0], verdicts[-1])}")
        if ladder and not verdicts[-1].faithful:
            break
    return levels, verdicts


def figures(n: int, levels: list[Scale], verdicts: list[Verdict]) -> list[Figure]:
    reference = levels[0]
    target = (
        f"fleet and group rates within 2 %, completion within max(2 %, x{reference.scale:g}'s "
        f"spread), mean lateness <= {verdicts[0].late_limit * 1000:.0f} ms"
    )
    rows = [
        Figure(
            f"national (N={n:,}, {len(lv.runs)} run(s)) at x{lv.scale:g}",
            describe(lv, reference, v),
            target=target,
            passed=v.faithful,
        )
        for lv, v in zip(levels, verdicts, strict=True)
    ]
    rows.append(_largest(n, levels, verdicts))
    return rows


def _largest(n: int, levels: list[Scale], verdicts: list[Verdict]) -> Figure:
    """The last scale before the first unfaithful one."""
    best: Scale | None = None
    for level, verdict in zip(levels, verdicts, strict=True):
        if not verdict.faithful:
            break
        best = level
    measured = "none"
    if best is not None:
        measured = (
            f"x{best.scale:g}: {n:,} messages, {best.mean(completion):,.0f} s simulated in "
            f"{best.mean(lambda r: r.wall):,.0f} s of wall time"
        )
    return Figure(
        "national: largest faithful time scale", measured, value=best.scale if best else None
    )
