"""Exit codes and one-line errors of every command, through each command's ``main``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launcher.cli import main as sim_app
from monitor.cli import main as monitor_app
from producer.cli import main as producer_app
from sender.cli import main as sender_app
from tests.commands import Main, Runner

DEAD_URL = "redis://:s3cret@127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("REDIS_URL", "SMS_RUN", "SMS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if "error:" in line]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize(
    ("app", "args", "expected"),
    [
        (sender_app, ["--failure-rate", "1.5"], "failure_rate"),
        (sender_app, ["--failure-rate", "1.0"], "failure_rate"),
        (sender_app, ["--mean-time", "-1"], "mean_time"),
        (producer_app, ["--count", "-1"], "count"),
        (monitor_app, ["--report-period", "-2"], "report_period"),
        (sim_app, ["run", "missing.yaml"], "config file not found"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    runner: Runner, app: Main, args: list[str], expected: str
) -> None:
    result = runner(app, args)
    assert result.exit_code == 2, result.output
    assert expected in error_line(result.output)
    assert "Traceback" not in result.output


def test_bad_config_file_exits_2(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("num_messages: 10\nsenders: []\n")
    result = runner(sim_app, ["run", "bad.yaml"])
    assert result.exit_code == 2
    assert "senders" in error_line(result.output)
    (tmp_path / "bad.yaml").write_text("report_period: 0\n")
    result = runner(producer_app, ["--config", "bad.yaml"])
    assert result.exit_code == 2
    assert "report_period" in error_line(result.output)


def test_non_numeric_flag_exits_2(runner: Runner) -> None:
    result = runner(producer_app, ["--count", "many"])
    assert result.exit_code == 2
    assert "--count" in error_line(result.output)


@pytest.mark.parametrize(
    ("app", "args"),
    [
        (producer_app, ["--count", "5"]),
        (sender_app, ["--mean-time", "0", "--failure-rate", "0"]),
        (monitor_app, []),
        (sim_app, ["reset", "--run", "blast-1"]),
        (sim_app, ["run", "--plain"]),
    ],
)
def test_unreachable_redis_exits_1_with_masked_url(
    runner: Runner, app: Main, args: list[str]
) -> None:
    result = runner(app, [*args, "--redis-url", DEAD_URL])
    assert result.exit_code == 1, result.output
    line = error_line(result.output)
    assert "127.0.0.1:1" in line
    assert "s3cret" not in result.output


def test_sim_run_on_embedded_redis_prints_json(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "num_messages: 60\nreport_period: 0.2\n"
        "senders:\n  - {mean_time: 0.001, failure_rate: 0.5}\n"
        "  - {mean_time: 0.002, failure_rate: 0.2}\n"
    )
    result = runner(sim_app, ["run", "c.yaml", "--json", "--plain", "--seed", "3"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["sent"] == summary["total"] == 60
    assert summary["attempts"] == summary["sent"] + summary["failed_attempts"]
    assert len(summary["senders"]) == 2


# Issue 11: every failure a user can cause or meet is one line, exit 2 for bad input.
HUGE = str(10**30)


@pytest.mark.parametrize(
    ("app", "args", "expected"),
    [
        (producer_app, ["--redis-url", ""], "empty"),
        (producer_app, ["--redis-url", "not a url"], "scheme"),
        (producer_app, ["--redis-url", "http://localhost:6379"], "scheme"),
        (producer_app, ["--redis-url", "redis://localhost:99999/0"], "out of range"),
        (producer_app, ["--redis-url", "redis://localhost:abc/0"], "redis_url"),
        (producer_app, ["--redis-url", "redis://[::1:6379/0"], "IPv6"),
        (producer_app, ["--redis-url", "redis://h:1/0?socket_timeout=abc"], "socket_timeout"),
        (producer_app, ["--redis-url", "redis://h:1/zero"], "database"),
        (sender_app, ["--claim-idle", "inf"], "claim_idle"),
        (sender_app, ["--mean-time", "nan"], "mean_time"),
        (sender_app, ["--concurrency", HUGE], "concurrency"),
        (producer_app, ["--count", HUGE], "count"),
        (monitor_app, ["--report-period", "inf"], "report_period"),
        (monitor_app, ["--report", "."], "is a directory"),
        (producer_app, [], "no Redis named"),
        (sender_app, ["--mean-time", "0", "--failure-rate", "0"], "no Redis named"),
        (monitor_app, [], "no Redis named"),
        (sim_app, ["reset"], "reset needs --redis-url"),
        (producer_app, ["--bogus"], "No such option"),
    ],
)
def test_bad_values_exit_2_with_one_line(
    runner: Runner, app: Main, args: list[str], expected: str
) -> None:
    result = runner(app, args)
    assert result.exit_code == 2, result.output
    assert expected in error_line(result.output)
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("senders:\n  - {mean_time: .inf, failure_rate: 0.1}\n", "senders.0.mean_time"),
        ("report_period: .inf\nsenders:\n  - {mean_time: 1, failure_rate: 0}\n", "finite"),
        ("shape: .inf\nsenders:\n  - {mean_time: 1, failure_rate: 0}\n", "shape"),
        ("num_messages: true\nsenders:\n  - {mean_time: 1, failure_rate: 0}\n", "not true/false"),
        ("num_messages: 5\nnum_messages: 6\n", "duplicate key 'num_messages'"),
        ("num_messages: 5\n", "senders: none listed"),
        ("senders:\n  - {mean_time: 1, failure_rate: 0, concurrency: 1.0e+30}\n", "concurrency"),
    ],
)
def test_configs_that_make_no_sense_exit_2(
    runner: Runner, tmp_path: Path, text: str, expected: str
) -> None:
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    result = runner(sim_app, ["run", "c.yaml"])
    assert result.exit_code == 2, result.output
    assert expected in error_line(result.output)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("num_messages: 5\n".encode("utf-16"), "not UTF-8"),
        (b"num_messages: 5\nsenders: [{mean_time: 1, failure_rate: 0}]\n# caf\xe9\n", "not UTF-8"),
        (b"# padding\n" * 200_000, "too large"),
    ],
)
def test_unreadable_config_files_exit_2(
    runner: Runner, tmp_path: Path, data: bytes, expected: str
) -> None:
    (tmp_path / "c.yaml").write_bytes(data)
    result = runner(sim_app, ["run", "c.yaml"])
    assert result.exit_code == 2, result.output
    assert expected in error_line(result.output)


HOSTILE = {
    "deep": ("senders: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply to be a config"),
    "digits": (
        "num_messages: " + "9" * 5000 + "\nsenders: [{mean_time: 1, failure_rate: 0}]\n",
        "a number too long to read (over 4300 digits)",
    ),
}


@pytest.mark.parametrize("config", sorted(HOSTILE))
@pytest.mark.parametrize(
    ("app", "args"),
    [
        (sim_app, ["run", "c.yaml"]),
        (sim_app, ["predict", "c.yaml"]),
        (producer_app, ["--config", "c.yaml", "--redis-url", DEAD_URL]),
        (sender_app, ["--config", "c.yaml", "--redis-url", DEAD_URL]),
    ],
)
def test_hostile_configs_are_one_line_not_a_traceback(
    runner: Runner, tmp_path: Path, config: str, app: Main, args: list[str]
) -> None:
    """Issue 24, item 7: YAML nested 5,000 deep, a number of 5,000 digits."""
    text, expected = HOSTILE[config]
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    result = runner(app, args)
    assert result.exit_code == 2, result.output
    assert expected in error_line(result.output)
    assert "Traceback" not in result.output and "RecursionError" not in result.output


def test_a_fleet_larger_than_one_process_serves_is_refused_up_front(
    runner: Runner, tmp_path: Path
) -> None:
    fleet = "".join("  - {mean_time: 0.1, failure_rate: 0.1}\n" for _ in range(10_000))
    (tmp_path / "c.yaml").write_text(f"senders:\n{fleet}", encoding="utf-8")
    result = runner(sim_app, ["run", "c.yaml"])
    assert result.exit_code == 2, result.output
    line = error_line(result.output)
    assert "10000 senders" in line and "concurrency" in line and "processes" in line


def test_help_shows_each_default_and_variable(runner: Runner) -> None:
    result = runner(sender_app, ["--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "Gamma shape of the delay." in text
    assert "[default: 10.0]" in text and "SENDER_SHAPE" in text
    assert "[default: 10.0]" in text.split("--claim-idle")[1][:200]


def test_version(runner: Runner) -> None:
    result = runner(sim_app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("sms-sim ")


ONE = "senders:\n  - {mean_time: 1, failure_rate: 0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"time_scale: 0\n{ONE}}}\n", "time_scale"),
        (f"time_scale: -2\n{ONE}}}\n", "time_scale"),
        (f"invalid_fraction: 1\n{ONE}}}\n", "invalid_fraction"),
        (f"invalid_fraction: -0.1\n{ONE}}}\n", "invalid_fraction"),
        (f"account: {{max_rate: 0}}\n{ONE}}}\n", "account.max_rate"),
        (f"{ONE}, max_rate: 0}}\n", "senders.0.max_rate"),
        (f"{ONE}, burst: 5}}\n", "burst needs max_rate"),
        (f"{ONE}, mtbf: 100}}\n", "mtbf and mttr go together"),
        (
            f"{ONE}, outages: [{{at: 10, for: 30}}, {{at: 20, for: 5}}]}}\n",
            "outages overlap",
        ),
        (f"{ONE}, outages: [{{at: 10, for: 0}}]}}\n", "senders.0.outages.0.for"),
        (f"{ONE}, retry_backoff: {{initial: 2, max: 1}}}}\n", "must be at least initial"),
        (f"{ONE}, retry_backoff: {{initial: 1, factor: 0.5}}}}\n", "factor"),
        (f"{ONE}, timeout: 0}}\n", "senders.0.timeout"),
    ],
)
def test_new_gateway_and_run_fields_are_checked(
    runner: Runner, tmp_path: Path, text: str, expected: str
) -> None:
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    result = runner(sim_app, ["run", "c.yaml"])
    assert result.exit_code == 2, result.output
    assert expected in error_line(result.output)


def test_a_time_scale_flag_out_of_range_exits_2(runner: Runner) -> None:
    result = runner(sim_app, ["run", "--time-scale", "0"])
    assert result.exit_code == 2 and "time_scale" in error_line(result.output)
