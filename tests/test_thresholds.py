"""Drills that pass or fail (issue 25): thresholds from the config file and from
``--threshold`` flags, judged on the final report, shown in the summary, the JSON, the
HTML report and /metrics, with exit 99 when one fails and exit 2 when one is wrong."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.asyncio import Redis

from common.keys import RunKeys
from monitor.cli import main as monitor_app
from tests.commands import Runner
from tests.roles import produce_now, send_all


@pytest.fixture
def finished(redis_url: str, run_name: str) -> Iterator[str]:
    """A run of 40 messages, every one delivered by a sender with no failures, and no
    monitor yet."""

    async def make() -> None:
        client = Redis.from_url(redis_url, decode_responses=True)
        try:
            await produce_now(client, run_name, 40)
            await send_all(client, run_name, failure_rate=0.0)
        finally:
            await client.aclose()

    asyncio.run(make())
    yield run_name
    redis.Redis.from_url(redis_url).delete(*RunKeys(run_name).all())


def watch(runner: Runner, url: str, run: str, *args: str) -> tuple[int, str, str]:
    done = runner(monitor_app, ["--run", run, "--redis-url", url, "--plain", *args])
    return done.exit_code, done.stdout, done.stderr


def test_met_goals_exit_0_and_are_shown(
    runner: Runner, redis_url: str, finished: str, tmp_path: Path
) -> None:
    report = tmp_path / "r.html"
    goals = ["delivered_95 <= 1h", "abandoned == 0", "undeliverable_ratio < 3%"]
    flags = [x for goal in goals for x in ("--threshold", goal)]
    code, out, err = watch(runner, redis_url, finished, "--json", "--report", str(report), *flags)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["thresholds_passed"] is True
    judged = {t["figure"]: (t["condition"], t["passed"]) for t in summary["thresholds"]}
    assert judged == {
        "delivered_95": ("<= 1h", True),
        "abandoned": ("== 0", True),
        "undeliverable_ratio": ("< 3%", True),
    }
    assert "thresholds: 3 of 3 passed" in err
    assert "passed     delivered_95 <= 1h:" in err
    page = report.read_text(encoding="utf-8")
    assert "Thresholds: 3 of 3 passed" in page and "delivered_95 &lt;= 1h" in page


def test_a_missed_goal_exits_99_naming_it(
    runner: Runner, redis_url: str, finished: str, tmp_path: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("thresholds:\n  sent: '>= 40'\n  delivered_50: '<= 1ms'\n")
    code, out, err = watch(runner, redis_url, finished, "--config", str(config), "--json")
    assert code == 99, err
    assert json.loads(out)["thresholds_passed"] is False
    last = err.strip().splitlines()[-1]
    assert last.startswith("sms-monitor: thresholds failed: delivered_50 <= 1ms (was ")
    assert "sent" not in last  # it passed
    assert "FAILED     delivered_50 <= 1ms:" in err


@pytest.mark.parametrize(
    ("flag", "said"),
    [
        ("delivred_95 <= 10m", "unknown figure 'delivred_95' (did you mean 'delivered_95'?)"),
        ("delivered_95 about 10m", "not FIGURE OP VALUE"),
        ("abandoned == 0s", "a count takes no unit"),
    ],
)
def test_a_wrong_goal_is_refused_before_the_run(
    runner: Runner, redis_url: str, run_name: str, flag: str, said: str
) -> None:
    code, _, err = watch(runner, redis_url, run_name, "--threshold", flag)
    assert code == 2
    assert said in err and len(err.strip().splitlines()) == 1  # nothing else: no run waited


def test_sms_sim_run_judges_the_drill_and_show_keeps_it(
    runner: Runner, redis_url: str, run_name: str, tmp_path: Path
) -> None:
    """The config's thresholds with a flag over one of them: the run exits 99 naming the
    one missed; `sms-sim show` lists them as judged."""
    from launcher.cli import main as sim_app  # noqa: PLC0415

    config = tmp_path / "drill.yaml"
    config.write_text(
        "thresholds: {sent: '>= 30', completion: '<= 1h', dead_letters: '> 0'}\n"
        "senders:\n  - {mean_time: 0, failure_rate: 0.2}\n",
        encoding="utf-8",
    )
    args = ["run", str(config), "--redis-url", redis_url, "--run", run_name, "--count", "30"]
    try:
        done = runner(sim_app, [*args, "--plain", "--threshold", "completion <= 10m"])
        assert done.exit_code == 99, done.output
        assert done.stderr.strip().splitlines()[-1] == (
            "sms-sim: thresholds failed: dead_letters > 0 (was 0)"
        )
        assert "thresholds: 2 of 3 passed" in done.stderr
        assert "completion <= 10m" in done.stderr and "<= 1h" not in done.stderr
        shown = runner(sim_app, ["show", run_name, "--redis-url", redis_url])
        assert shown.exit_code == 0, shown.output
        assert "thresholds: 2 of 3 passed" in shown.stdout
        assert "FAILED" in shown.stdout and "dead_letters > 0" in shown.stdout
    finally:
        redis.Redis.from_url(redis_url).delete(*RunKeys(run_name).all())


def test_sms_sim_run_refuses_a_wrong_goal_before_it_starts(
    runner: Runner, redis_url: str, run_name: str
) -> None:
    from launcher.cli import main as sim_app  # noqa: PLC0415

    args = ["run", "--redis-url", redis_url, "--run", run_name, "--count", "5"]
    done = runner(sim_app, [*args, "--threshold", "completion <= soon"])
    assert done.exit_code == 2
    assert done.error.startswith("sms-sim: error: thresholds.completion: '<= soon' is not")
    assert not redis.Redis.from_url(redis_url).keys(f"sms:{{{run_name}}}:*")  # no run made


def test_thresholds_in_the_environment_that_are_not_json_are_one_line(
    runner: Runner, redis_url: str, run_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MONITOR_THRESHOLDS takes a JSON object: anything else is exit 2 naming it (it was a
    pydantic-settings traceback)."""
    monkeypatch.setenv("MONITOR_THRESHOLDS", "not json")
    code, _, err = watch(runner, redis_url, run_name)
    assert code == 2
    assert (
        err.strip()
        == "sms-monitor: error: MONITOR_THRESHOLDS: not valid JSON, which this variable takes"
    )
