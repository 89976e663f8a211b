"""The virtual model against the simulator (issue 23): does ``sms-sim predict`` forecast
what ``sms-sim run`` does?

For each fleet below (together they cover every feature of a fleet: speeds and gamma
shapes from 1 to 100, failure rates up to 0.8, ``max_attempts``, a binding per-sender
``max_rate``, a binding account cap, a scheduled outage with ``timeout`` and
``retry_backoff``, random outages, ``invalid_fraction``, several slots), the fleet is
written to a YAML file and

- the model forecasts it: ``common.virtual.forecast`` (``--replications`` virtual runs,
  seed ``--seed``; a figure's band is its 5th to 95th percentile over them, ``--band``);
- the distributed simulator runs it ``--runs`` times: ``sms-sim run FLEET.yaml --plain
  --json --seed S`` (``python -m launcher run`` with this interpreter), each at the
  fleet's time scale on ``sms-sim run``'s own private redis-server (``--redis-url``: on
  that server instead, each run's keys deleted afterwards). Run r of the k-th fleet has
  seed ``seed + 1000 r + 100 k``: no two fleets share their luck (the same seed gives
  the same messages and the same draws, sender by sender). Its JSON summary gives the
  simulated completion (``elapsed``: from the run's start to its last result), the
  delivery time percentiles and the counts.

Verdicts, per fleet: the simulator's mean completion within 2 % of the model's mean, and
every run's completion inside the model's band. Beside them, what chance alone allows:
"2 s.e." is twice the standard error of a mean of R runs as the model's own spread
predicts it (the band's width over 2 x 1.645 for a 5-95 band, over sqrt(R)): a mean
further off than both 2 % and that is a difference between the model and the simulator,
not bad luck; and a perfect model puts about 90 % of the runs inside a 5-95 band (5
runs all inside: 59 % of the time). Runs whose monitor warned that senders fell behind
their schedule (the run compressed past what the machine simulates faithfully) are
counted ("behind"). A second table sets the other figures beside their bands: delivery
time p50/p95/p99, failed attempts, abandoned, undeliverable. The exit status is 0 either
way: a benchmark reports.

    uv run python benchmarks/model_vs_sim.py [--runs 5] [--fleets NAME ...]
        [--replications 200] [--seed 1] [--band 5-95] [--tiny] [--markdown]

``--tiny``: a smoke mode (1 run, a few dozen messages, 20 virtual runs).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import redis
import yaml

from benchmarks._figures import Figure, base_parser, log, markdown_table, print_table
from benchmarks._machine import machine
from benchmarks._runs import delete_run, new_run
from common.model import SimConfig
from common.settings import read_config_file
from common.virtual.forecast import Band, Effort, Forecast, forecast
from tests.processes import clean_env
from tests.support import ROOT

TOLERANCE = 0.02  # the simulator's mean completion against the model's
SEED_STRIDE = 1000  # between the runs' seeds
FLEET_STRIDE = 100  # between the fleets' (sender N of a run is seeded seed + N)
BEHIND = "behind its schedule"  # the monitor's warning when a run is compressed too far
TINY_MESSAGES = 40
TINY_REPLICATIONS = 20
RUN_TIMEOUT = 300.0  # real seconds one sms-sim run may take
ERROR_LINES = 3  # of a failed run's stderr, kept
REASON_CHARS = 400  # of a failed run's reason, printed under the table


@dataclass(frozen=True)
class Fleet:
    """A fleet of the benchmark: its config (without ``num_messages``), its size."""

    name: str
    covers: str
    messages: int
    scale: float
    config: dict[str, Any]

    def yaml_config(self, messages: int) -> dict[str, Any]:
        return {
            "num_messages": messages,
            "report_period": 5,
            "time_scale": self.scale,
            **self.config,
        }


FLEETS = (
    Fleet(
        "speeds",
        "speeds 0.05-2 s, shapes 1/10/100, 2-20 slots",
        2000,
        10,
        {
            "shape": 10,
            "senders": [
                {"mean_time": 0.05, "failure_rate": 0.1, "shape": 100, "concurrency": 2},
                {"mean_time": 0.5, "failure_rate": 0.2, "shape": 1, "concurrency": 8},
                {"mean_time": 2.0, "failure_rate": 0.05, "concurrency": 20},
            ],
        },
    ),
    Fleet(
        "retries",
        "failure rates 0.3-0.8, max_attempts 3/4 (abandoned), invalid_fraction 0.05",
        1500,
        10,
        {
            "invalid_fraction": 0.05,
            "senders": [
                {"mean_time": 0.2, "failure_rate": 0.8, "max_attempts": 3, "concurrency": 6},
                {"mean_time": 0.3, "failure_rate": 0.5, "max_attempts": 4, "concurrency": 8},
                {"mean_time": 0.4, "failure_rate": 0.3, "concurrency": 8, "shape": 4},
            ],
        },
    ),
    Fleet(
        "paced",
        "per-sender max_rate binding (12/s burst 4, 8/s burst 1), one not binding",
        900,
        10,
        {
            "senders": [
                {
                    "mean_time": 1.0,
                    "failure_rate": 0.2,
                    "concurrency": 30,
                    "max_rate": 12,
                    "burst": 4,
                },
                {
                    "mean_time": 0.5,
                    "failure_rate": 0.2,
                    "concurrency": 5,
                    "max_rate": 20,
                    "burst": 2,
                },
                {"mean_time": 0.3, "failure_rate": 0.4, "concurrency": 4, "max_rate": 8},
            ],
        },
    ),
    Fleet(
        "account",
        "account cap 40/s burst 5 binding (70/s wanted), a max_rate, invalid_fraction 0.02",
        1200,
        10,
        {
            "invalid_fraction": 0.02,
            "account": {"max_rate": 40, "burst": 5},
            "senders": [
                {"mean_time": 0.5, "failure_rate": 0.3, "concurrency": 20},
                {"mean_time": 1.0, "failure_rate": 0.1, "concurrency": 20, "shape": 3},
                {"mean_time": 0.2, "failure_rate": 0.2, "concurrency": 4, "max_rate": 10},
            ],
        },
    ),
    Fleet(
        "outage",
        "scheduled outages (10-22 s, 25-30 s), timeout 2/5 s, retry_backoff",
        1500,
        10,
        {
            "senders": [
                {
                    "mean_time": 0.4,
                    "failure_rate": 0.2,
                    "concurrency": 10,
                    "outages": [{"at": 10, "for": 12}],
                    "timeout": 2,
                    "retry_backoff": {"initial": 1, "factor": 2, "max": 8},
                },
                {
                    "mean_time": 0.6,
                    "failure_rate": 0.1,
                    "concurrency": 10,
                    "retry_backoff": {"initial": 0.5, "factor": 3, "max": 5},
                },
                {
                    "mean_time": 1.0,
                    "failure_rate": 0.3,
                    "concurrency": 10,
                    "outages": [{"at": 25, "for": 5}],
                    "timeout": 5,
                },
            ],
        },
    ),
    Fleet(
        "random",
        "random outages (mtbf 15/20 s, mttr 4/3 s), timeout 2/1 s, a backoff",
        1500,
        10,
        {
            "senders": [
                {
                    "mean_time": 0.5,
                    "failure_rate": 0.1,
                    "concurrency": 10,
                    "mtbf": 15,
                    "mttr": 4,
                    "timeout": 2,
                    "retry_backoff": {"initial": 1, "max": 4},
                },
                {
                    "mean_time": 0.5,
                    "failure_rate": 0.1,
                    "concurrency": 10,
                    "mtbf": 20,
                    "mttr": 3,
                    "timeout": 1,
                },
                {"mean_time": 0.8, "failure_rate": 0.2, "concurrency": 10},
            ],
        },
    ),
    Fleet(
        "mixed",
        "all at once: account cap, max_rate, outage, mtbf, max_attempts, invalid, shapes",
        1400,
        20,
        {
            "shape": 5,
            "invalid_fraction": 0.03,
            "account": {"max_rate": 60, "burst": 10},
            "senders": [
                {
                    "mean_time": 1.5,
                    "failure_rate": 0.2,
                    "concurrency": 40,
                    "max_rate": 25,
                    "burst": 5,
                    "retry_backoff": {"initial": 2, "factor": 2, "max": 10},
                },
                {
                    "mean_time": 1.0,
                    "failure_rate": 0.3,
                    "concurrency": 30,
                    "shape": 20,
                    "mtbf": 30,
                    "mttr": 5,
                    "timeout": 3,
                    "max_attempts": 6,
                },
                {
                    "mean_time": 0.3,
                    "failure_rate": 0.6,
                    "concurrency": 6,
                    "shape": 2,
                    "outages": [{"at": 15, "for": 10}],
                    "timeout": 4,
                    "max_attempts": 3,
                },
            ],
        },
    ),
)
NAMES = [f.name for f in FLEETS]


@dataclass(frozen=True)
class SimRun:
    """What one ``sms-sim run`` reported (simulated seconds, counts)."""

    seed: int
    completion: float
    delivery: dict[str, float]  # "p50" ...
    counts: dict[str, float]  # "failed attempts" ...
    wall: float  # real seconds of the whole command
    behind: bool  # the monitor warned a sender fell behind its schedule


COUNTS = {  # the forecast's count -> the summary's JSON key
    "failed attempts": ("failed", "failed_attempts"),
    "abandoned": ("abandoned", "abandoned"),
    "undeliverable": ("undeliverable", "undeliverable"),
}


class RunFailed(Exception):
    """An ``sms-sim run`` that did not complete: counted, shown, and the benchmark goes on."""


def run_simulator(path: Path, seed: int, redis_url: str | None) -> SimRun:
    """One ``sms-sim run`` of the fleet at ``path`` (its own private redis-server unless
    ``redis_url``), its JSON summary read; RunFailed when it did not complete."""
    run = new_run("model")
    args = [sys.executable, "-m", "launcher", "run", str(path), "--plain", "--json"]
    args += ["--run", run, "--seed", str(seed)]
    if redis_url:
        args += ["--redis-url", redis_url]
    env = {**clean_env(), "LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    try:
        done = subprocess.run(
            args,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RunFailed(f"no end within {RUN_TIMEOUT:.0f} s") from None
    finally:
        if redis_url:
            with contextlib.suppress(redis.RedisError):
                delete_run(redis_url, run)
    wall = time.perf_counter() - started
    tail = done.stderr.strip().splitlines()[-ERROR_LINES:]
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RunFailed(f"exit {done.returncode}: " + " | ".join(tail))
    try:
        summary: dict[str, Any] = json.loads(lines[-1])
    except ValueError:
        raise RunFailed(f"no JSON summary: {lines[-1][:200]}") from None
    if summary.get("state") != "complete":
        raise RunFailed(f"ended {summary.get('state')!r}, not complete: " + " | ".join(tail))
    delivery = {q: float(summary["delivery_time"][q] or math.nan) for q in ("p50", "p95", "p99")}
    counts = {label: float(summary[key]) for label, (_, key) in COUNTS.items()}
    return SimRun(seed, float(summary["elapsed"]), delivery, counts, wall, BEHIND in done.stderr)


@dataclass
class Comparison:
    """One fleet: the model's forecast beside the simulator's runs."""

    fleet: Fleet
    messages: int
    model: Forecast
    runs: list[SimRun] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # why each failed run failed
    model_wall: float = 0.0
    wall: float = 0.0

    @property
    def tried(self) -> int:
        return len(self.runs) + len(self.failed)

    @property
    def sim_mean(self) -> float:
        if not self.runs:
            return math.nan
        return sum(r.completion for r in self.runs) / len(self.runs)

    @property
    def ratio(self) -> float:
        return self.sim_mean / self.model.completion.mean

    @property
    def inside(self) -> int:
        return sum(self.model.completion.holds(r.completion) for r in self.runs)

    @property
    def mean_ok(self) -> bool:
        return abs(self.ratio - 1) <= TOLERANCE

    @property
    def band_ok(self) -> bool:
        """Every run inside the band (a failed run is not)."""
        return self.inside == self.tried

    @property
    def noise(self) -> float:
        """Twice the standard error of a mean of the runs, as the model's spread has it,
        relative to the model's mean."""
        runs = max(1, len(self.runs))
        return 2 * spread(self.model.completion, self.model.band) / math.sqrt(runs)

    @property
    def behind(self) -> int:
        return sum(r.behind for r in self.runs)


def spread(band: Band, percentiles: tuple[float, float]) -> float:
    """The standard deviation a normal figure with this band would have, over its mean."""
    low, high = percentiles
    z = NormalDist().inv_cdf(high / 100) - NormalDist().inv_cdf(low / 100)
    return (band.high - band.low) / z / band.mean if band.mean else 0.0


def run_seed(args: argparse.Namespace, fleet: Fleet, run: int) -> int:
    """Run ``run`` of ``fleet``: seeds of their own, so that no two fleets share their
    luck (the same seed gives the same messages and the same draws, sender by sender)."""
    first: int = args.seed
    return first + SEED_STRIDE * run + FLEET_STRIDE * FLEETS.index(fleet)


def compare(fleet: Fleet, args: argparse.Namespace) -> Comparison:
    messages = TINY_MESSAGES if args.tiny else fleet.messages
    replications = TINY_REPLICATIONS if args.tiny else args.replications
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sms-model-") as tmp:
        path = Path(tmp) / f"{fleet.name}.yaml"
        path.write_text(yaml.safe_dump(fleet.yaml_config(messages)), encoding="utf-8")
        config: SimConfig = read_config_file(path)
        log(f"{fleet.name}: the model, {replications} virtual runs of {messages:,} messages")
        model = forecast(config, Effort(replications=replications, seed=args.seed, band=args.band))
        found = Comparison(fleet, messages, model, model_wall=time.perf_counter() - started)
        band = model.completion
        log(
            f"   completion {band.mean:.2f} s ({band.low:.2f}-{band.high:.2f}) simulated, "
            f"in {found.model_wall:.1f} s"
        )
        for r in range(args.runs):
            seed = run_seed(args, fleet, r)
            try:
                one = run_simulator(path, seed, args.redis_url)
            except RunFailed as exc:
                found.failed.append(f"seed {seed}: {exc}")
                log(f"   sms-sim run x{fleet.scale:g} seed {seed}: FAILED, {exc}")
                continue
            found.runs.append(one)
            log(
                f"   sms-sim run x{fleet.scale:g} seed {seed}: completion {one.completion:.2f} s "
                f"simulated ({'inside' if band.holds(one.completion) else 'OUTSIDE'} the band"
                f"{', senders behind their schedule' if one.behind else ''}), "
                f"wall {one.wall:.1f} s"
            )
    found.wall = time.perf_counter() - started
    return found


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value >= 10 else f"{value:.2f} s"


def banded(band: Band | None) -> str:
    if band is None:
        return "never"
    return f"{seconds(band.mean)} [{seconds(band.low)}-{seconds(band.high)}]"


def count(value: float) -> str:
    return f"{value:,.0f}"


def observed(values: Sequence[float], fmt: Callable[[float], str] = seconds) -> str:
    """The runs' mean, and their range when there are several."""
    mean = sum(values) / len(values)
    if len(values) == 1:
        return fmt(mean)
    return f"{fmt(mean)} ({fmt(min(values))}-{fmt(max(values))})"


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


COMPLETION_HEADERS = (
    "fleet",
    "covers",
    "N, scale",
    "model completion [band]",
    "simulator (min-max)",
    "sim / model",
    "2 s.e.",
    "in band",
    "behind",
    "failed",
    "mean within 2 %",
    "every run in band",
    "wall",
)


def completion_row(c: Comparison) -> list[str]:
    ran = bool(c.runs)
    return [
        c.fleet.name,
        c.fleet.covers,
        f"{c.messages:,} x{c.fleet.scale:g}",
        banded(c.model.completion),
        observed([r.completion for r in c.runs]) if ran else "-",
        f"{c.ratio:.3f} ({c.ratio - 1:+.1%})" if ran else "-",
        f"{c.noise:.1%}",
        f"{c.inside}/{c.tried}",
        f"{c.behind}/{len(c.runs)}",
        f"{len(c.failed)}",
        verdict(ran and c.mean_ok),
        verdict(c.band_ok),
        f"{c.wall:.0f} s",
    ]


OTHER_HEADERS = ("fleet", "figure", "model [band]", "simulator (min-max)", "sim / model", "in band")


def other_rows(c: Comparison) -> list[list[str]]:
    rows: list[list[str]] = []
    if not c.runs:
        return rows
    for q in ("p50", "p95", "p99"):
        band = c.model.delivery[q]
        values = [r.delivery[q] for r in c.runs]
        rows.append(_other(c, f"delivery {q}", band, values, seconds))
    for label, (attribute, _) in COUNTS.items():
        band = getattr(c.model, attribute)
        values = [r.counts[label] for r in c.runs]
        if band.high == 0 and not any(values):
            continue
        rows.append(_other(c, label, band, values, count))
    return rows


def _other(
    c: Comparison,
    label: str,
    band: Band | None,
    values: Sequence[float],
    fmt: Callable[[float], str],
) -> list[str]:
    mean = sum(values) / len(values)
    shown = observed(values, fmt)
    if band is None:
        return [c.fleet.name, label, "never", shown, "-", "-"]
    inside = sum(band.holds(v) for v in values)
    ratio = f"{mean / band.mean:.3f}" if band.mean else "-"
    return [
        c.fleet.name,
        label,
        f"{fmt(band.mean)} [{fmt(band.low)}-{fmt(band.high)}]",
        shown,
        ratio,
        f"{inside}/{len(values)}",
    ]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> None:
    if markdown:
        print(markdown_table(headers, rows))
    else:
        print_table(headers, rows)


def figures(found: Sequence[Comparison]) -> list[Figure]:
    """For ``run_all.py`` (``--json-out``): a figure per fleet."""
    return [
        Figure(
            f"model vs simulator: {c.fleet.name} completion",
            f"sim / model {c.ratio:.3f}, {c.inside}/{len(c.runs)} runs in the band",
            target="mean within 2 %, every run in the band",
            passed=c.mean_ok and c.band_ok,
            value=c.ratio,
        )
        for c in found
    ]


def report(found: Sequence[Comparison], args: argparse.Namespace, wall: float) -> None:
    low, high = args.band
    print()
    print(
        f"== the virtual model against the simulator: completion (simulated seconds; "
        f"model: {found[0].model.replications} virtual runs, band {low:g}-{high:g} %; "
        f"simulator: {args.runs} run(s) per fleet)"
    )
    table(COMPLETION_HEADERS, [completion_row(c) for c in found], args.markdown)
    for c in found:
        for reason in c.failed:
            print(f"   {c.fleet.name}: a run failed, {reason[:REASON_CHARS]}")
    print()
    print("== the other figures")
    table(OTHER_HEADERS, [row for c in found for row in other_rows(c)], args.markdown)
    passed = sum(c.mean_ok and c.band_ok for c in found)
    print()
    print(
        f"2 s.e.: twice the standard error of the mean of {args.runs} run(s) by the model's "
        f"own spread; a perfect model puts {high - low:g} % of the runs inside the band. "
        f"behind: runs whose monitor warned that senders fell behind their schedule; "
        f"failed: runs that did not complete (counted outside the band)."
    )
    print(f"{passed}/{len(found)} fleets pass both; wall time {wall:.0f} s")
    box = machine()
    print(
        f"machine: {box['nproc']} cores ({box['cpu']}), Python {box['python']}, "
        f"redis-server {box['redis-server']}, {time.strftime('%Y-%m-%d %H:%M')}"
    )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps([asdict(f) for f in figures(found)], indent=1))


def parse_band(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LOW-HIGH, such as 5-95") from None
    if not 0 <= low < high <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} needs 0 <= LOW < HIGH <= 100")
    return low, high


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=5, help="sms-sim runs per fleet (5)")
    parser.add_argument("--fleets", nargs="+", choices=NAMES, default=None, help="these only")
    parser.add_argument("--replications", type=int, default=200, help="virtual runs (200)")
    parser.add_argument("--seed", type=int, default=1, help="the model's and first run's seed")
    parser.add_argument("--band", type=parse_band, default=(5.0, 95.0), help="LOW-HIGH (5-95)")
    parser.add_argument("--tiny", action="store_true", help="smoke: 1 run, a few messages")
    args = parser.parse_args(argv)
    if args.tiny:
        args.runs = 1
    if args.runs < 1 or args.replications < 2:
        parser.error("--runs must be at least 1 and --replications at least 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.perf_counter()
    wanted = set(args.fleets or NAMES)
    found = [compare(fleet, args) for fleet in FLEETS if fleet.name in wanted]
    report(found, args, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
