"""``sms-sim predict`` and ``sms-sim plan`` (launcher/forecasts.py, launcher/planning.py):
answers known in closed form, and one-line errors.

The fleets have constant delays (gamma shape 10**6), so their answers are exact: N
messages of 1 s on C slots take ceil(N / C) s.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from launcher.cli import main as sim_app
from launcher.planning import parse_duration, parse_share
from tests.commands import Runner

CONSTANT = 1_000_000.0


def fleet(tmp_path: Path, *senders: dict[str, Any], **run: Any) -> str:
    base = {"failure_rate": 0.0, "mean_time": 1.0}
    data = {"num_messages": 100, "shape": CONSTANT, **run}
    data["senders"] = [{**base, **s} for s in senders]
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_predict_prints_the_bands_of_the_virtual_runs(runner: Runner, tmp_path: Path) -> None:
    config = fleet(tmp_path, {"concurrency": 10})
    done = runner(sim_app, ["predict", config, "--replications", "7", "--seed", "1"])
    assert done.exit_code == 0, done.output
    assert "100 messages, 1 senders, 7 virtual runs" in done.stdout
    assert re.search(
        r"completion \(every message settled\)\s+10\.0s \(10\.0s - 10\.0s\)", done.stdout
    )
    data = json.loads(runner(sim_app, ["predict", config, "--json"]).stdout)
    assert data["completion"]["mean"] == pytest.approx(10.0, rel=1e-3)
    assert data["delivered"]["95%"]["mean"] == pytest.approx(10.0, rel=1e-3)
    assert data["delivery"]["p50"]["mean"] == pytest.approx(5.0, rel=1e-3)
    assert data["sent"]["mean"] == 100


def test_predict_says_never_for_shares_never_delivered(runner: Runner, tmp_path: Path) -> None:
    config = fleet(tmp_path, {"concurrency": 10}, invalid_fraction=0.5)
    done = runner(sim_app, ["predict", config, "--replications", "3", "--json"])
    data = json.loads(done.stdout)
    assert data["delivered"]["99%"] is None and data["delivered"]["95%"] is None
    text = runner(sim_app, ["predict", config, "--replications", "3"]).stdout
    assert "99% delivered" in text and "never" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--band", "95-5"], "band: '95-5' needs 0 <= LOW < HIGH <= 100"),
        (["--band", "x"], "band: 'x' is not LOW-HIGH"),
        (["--count", "-1"], "num_messages"),
        (["--replications", "0"], "replications"),
    ],
)
def test_predict_refuses_bad_options_in_one_line(
    runner: Runner, tmp_path: Path, args: list[str], message: str
) -> None:
    done = runner(sim_app, ["predict", fleet(tmp_path, {}), *args])
    assert done.exit_code == 2
    assert message in done.output


def test_predict_refuses_a_missing_config(runner: Runner) -> None:
    done = runner(sim_app, ["predict", "no-such.yaml"])
    assert done.exit_code == 2 and "no-such.yaml" in done.error


@pytest.mark.parametrize(
    ("senders", "run", "vary", "answer", "below"),
    [
        # 100 messages of 1 s within 10.5 s: 10 slots (9 take 12 s)
        ([{"concurrency": 2}], {}, "senders[0].concurrency", 10, "12.0s"),
        # copies of a 2-slot sender: 5 (4 take 13 s)
        ([{"concurrency": 2}], {}, "senders[0].copies", 5, "13.0s"),
        # an account of R/s and 0.01 s attempts: the last starts at 99 / R: R = 10 (9: 11.0s)
        (
            [{"mean_time": 0.01, "concurrency": 200}],
            {"account": {"max_rate": 1}},
            "account.max_rate",
            10,
            "11.0s",
        ),
    ],
)
def test_plan_finds_the_smallest_value_known_in_closed_form(  # noqa: PLR0917
    runner: Runner,
    tmp_path: Path,
    senders: list[dict[str, Any]],
    run: dict[str, Any],
    vary: str,
    answer: int,
    below: str,
) -> None:
    config = fleet(tmp_path, *senders, **run)
    done = runner(sim_app, ["plan", config, "--deadline", "10.5s", "--vary", vary])
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[1].startswith(f"  {answer}: ") and lines[1].endswith("meets the deadline")
    assert lines[2].startswith(f"  {answer - 1}: {below}") and lines[2].endswith("misses")
    assert "tried " in done.stderr  # progress, one line a value tried


def test_plan_can_aim_at_a_share_delivered(runner: Runner, tmp_path: Path) -> None:
    """Half of 100 messages within 5.5 s: 10 slots (ceil(50 / 9) = 6 s with 9)."""
    config = fleet(tmp_path, {"concurrency": 1})
    args = ["plan", config, "--deadline", "5.5s", "--delivered", "50%", "--vary"]
    done = runner(sim_app, [*args, "senders[0].concurrency"])
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[1].startswith("  10: 5.0s")


@pytest.mark.parametrize(
    ("vary", "deadline", "message"),
    [
        ("senders[3].concurrency", "10m", "the config has 1 senders (0 to 0)"),
        ("senders[0].shape", "10m", "is not a field a plan varies"),
        ("account.max_rate", "10m", "the config has no account cap to vary"),
        ("senders[0].concurrency", "0.5s", "no value of senders[0].concurrency up to 100000"),
        ("senders[0].concurrency", "10x", "deadline: '10x' is not a duration"),
    ],
)
def test_plan_errors_are_one_line(
    runner: Runner, tmp_path: Path, vary: str, deadline: str, message: str
) -> None:
    config = fleet(tmp_path, {"concurrency": 2})
    done = runner(sim_app, ["plan", config, "--deadline", deadline, "--vary", vary])
    assert done.exit_code == 2
    assert message in done.error


def test_plan_says_when_the_field_cannot_change_the_outcome(runner: Runner, tmp_path: Path) -> None:
    """An account of 5/s holds the fleet: more slots change nothing."""
    config = fleet(tmp_path, {"mean_time": 0.01, "concurrency": 1}, account={"max_rate": 5})
    done = runner(
        sim_app, ["plan", config, "--deadline", "10s", "--vary", "senders[0].concurrency"]
    )
    assert done.exit_code == 2
    assert "does not change" in done.error and "something else holds the fleet back" in done.error


def test_plan_verify_runs_the_answer_through_the_simulation(runner: Runner, tmp_path: Path) -> None:
    config = fleet(tmp_path, {"concurrency": 2}, num_messages=40, time_scale=20)
    done = runner(
        sim_app,
        ["plan", config, "--deadline", "4.5s", "--vary", "senders[0].concurrency", "--verify"],
    )
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[1].startswith("  10: 4.0s")
    verdict = done.stdout.splitlines()[-1]
    assert verdict.startswith("verified: the simulation of the answer took ")
    assert "it meets the deadline" in verdict or "it MISSES the deadline" in verdict


@pytest.mark.parametrize(
    ("text", "seconds"), [("10m", 600), ("1h30m", 5400), ("90s", 90), ("45", 45), ("2.5m", 150)]
)
def test_deadlines_read_as_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_shares_read_as_percentages() -> None:
    assert parse_share("95%") == 0.95
    assert parse_share(None) is None and parse_share("all") is None
