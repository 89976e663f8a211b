"""Exit codes and one-line errors of every command, through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from launcher.cli import app as sim_app
from monitor.cli import app as monitor_app
from producer.cli import app as producer_app
from sender.cli import app as sender_app

runner = CliRunner()
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
def test_bad_input_exits_2_with_one_line(app: object, args: list[str], expected: str) -> None:
    result = runner.invoke(app, args)  # type: ignore[arg-type]
    assert result.exit_code == 2, result.output
    assert expected in error_line(result.output)
    assert "Traceback" not in result.output


def test_bad_config_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("num_messages: 10\nsenders: []\n")
    result = runner.invoke(sim_app, ["run", "bad.yaml"])
    assert result.exit_code == 2
    assert "senders" in error_line(result.output)
    (tmp_path / "bad.yaml").write_text("report_period: 0\n")
    result = runner.invoke(producer_app, ["--config", "bad.yaml"])
    assert result.exit_code == 2
    assert "report_period" in error_line(result.output)


def test_non_numeric_flag_exits_2() -> None:
    result = runner.invoke(producer_app, ["--count", "many"])
    assert result.exit_code == 2
    assert "--count" in result.output


@pytest.mark.parametrize(
    ("app", "args"),
    [
        (producer_app, ["--count", "5"]),
        (sender_app, ["--mean-time", "0", "--failure-rate", "0"]),
        (monitor_app, []),
        (sim_app, ["reset"]),
        (sim_app, ["run", "--plain"]),
    ],
)
def test_unreachable_redis_exits_1_with_masked_url(app: object, args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--redis-url", DEAD_URL])  # type: ignore[arg-type]
    assert result.exit_code == 1, result.output
    line = error_line(result.output)
    assert "127.0.0.1:1" in line
    assert "s3cret" not in result.output


def test_sim_run_on_embedded_redis_prints_json(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "num_messages: 60\nreport_period: 0.2\n"
        "senders:\n  - {mean_time: 0.001, failure_rate: 0.5}\n"
        "  - {mean_time: 0.002, failure_rate: 0.2}\n"
    )
    result = runner.invoke(sim_app, ["run", "c.yaml", "--json", "--plain", "--seed", "3"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["sent"] == summary["total"] == 60
    assert summary["attempts"] == summary["sent"] + summary["failed_attempts"]
    assert len(summary["senders"]) == 2
