"""Configuration: precedence flag > environment > YAML file > default, and validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from common.errors import ConfigError, UsageProblem
from common.model import EXAMPLE_FLEET, SimConfig
from common.settings import (
    MonitorSettings,
    ProducerSettings,
    SenderSettings,
    load_settings,
    read_config_file,
)

SEED_YAML = """\
num_messages: 1000
report_period: 2.0
senders:
  - { mean_time: 0.05, failure_rate: 0.50 }
  - { mean_time: 0.10, failure_rate: 0.45 }
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No stray variables, and no .env from the repository (cwd is an empty folder)."""
    for name in (
        "REDIS_URL",
        "SMS_RUN",
        "SMS_CONFIG",
        "LOG_LEVEL",
        "PRODUCER_COUNT",
        "SENDER_MEAN_TIME",
        "SENDER_SHAPE",
        "MONITOR_REPORT_PERIOD",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_seed_yaml_is_accepted_verbatim(tmp_path: Path) -> None:
    cfg = read_config_file(write(tmp_path, SEED_YAML))
    assert cfg.num_messages == 1000 and cfg.report_period == 2.0 and cfg.shape == 10.0
    assert cfg.senders is not None
    assert [(s.mean_time, s.failure_rate) for s in cfg.senders] == [(0.05, 0.5), (0.1, 0.45)]


def test_repository_config_is_the_default_fleet(project_root: Path) -> None:
    cfg = read_config_file(project_root / "config.yaml")
    assert cfg == SimConfig.example()
    assert tuple(cfg.senders or ()) == EXAMPLE_FLEET


def test_precedence_flag_over_env_over_file_over_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "num_messages: 7\nreport_period: 3\nshape: 4\n")
    assert load_settings(ProducerSettings).count == 1000  # default
    assert load_settings(ProducerSettings, {"config": path}).count == 7  # file
    monkeypatch.setenv("PRODUCER_COUNT", "8")
    assert load_settings(ProducerSettings, {"config": path}).count == 8  # env beats file
    assert load_settings(ProducerSettings, {"config": path, "count": 9}).count == 9  # flag
    monkeypatch.setenv("SMS_CONFIG", str(path))
    assert load_settings(MonitorSettings).report_period == 3.0  # SMS_CONFIG names the file
    assert load_settings(SenderSettings).shape == 4.0


def test_dotenv_in_a_parent_folder_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("SMS_RUN=from-dotenv\nSENDER_MEAN_TIME=0.25\n")
    child = tmp_path / "a" / "b"
    child.mkdir(parents=True)
    monkeypatch.chdir(child)
    settings = load_settings(SenderSettings)
    assert settings.run == "from-dotenv" and settings.mean_time == 0.25


def test_shared_variables_apply_to_every_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://example:1/0")
    monkeypatch.setenv("SMS_RUN", "blast")
    for cls in (ProducerSettings, SenderSettings, MonitorSettings):
        s = load_settings(cls)
        assert (s.redis_url, s.run) == ("redis://example:1/0", "blast")


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("senders:\n  - {mean_time: 0.1, failure_rate: 1.0}\n", "failure_rate must be"),
        ("senders:\n  - {mean_time: 0.1, failure_rate: -0.1}\n", "senders.0.failure_rate"),
        ("senders:\n  - {mean_time: -1, failure_rate: 0.1}\n", "senders.0.mean_time"),
        ("num_messages: -5\n", "num_messages"),
        ("num_messages: many\n", "num_messages"),
        ("report_period: 0\n", "report_period"),
        ("colour: blue\n", "colour: unknown option"),
        ("senders:\n  - {mean_time: 0.1, failure_rate: 0.1, speed: 2}\n", "senders.0.speed"),
        ("num_messages: [1\n", "line 2"),
        ("- 1\n- 2\n", "must be a mapping"),
    ],
)
def test_bad_files_give_one_line_naming_the_problem(
    tmp_path: Path, yaml_text: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        read_config_file(write(tmp_path, yaml_text))
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        read_config_file(tmp_path / "nope.yaml")


def test_failure_rate_one_needs_max_attempts() -> None:
    with pytest.raises(ValidationError):
        SenderSettings(failure_rate=1.0)
    assert SenderSettings(failure_rate=1.0, max_attempts=3).failure_rate == 1.0


def test_sim_run_reads_every_role_variable_as_the_roles_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: SENDER_CLAIM_IDLE reached the senders of `sms-sim run` while
    SENDER_CONCURRENCY was ignored, and PRODUCER_COUNT too. Now both roles' variables
    apply there as they do to sms-sender and sms-producer (flag > env > file > default)."""
    from launcher.simulate import plan  # noqa: PLC0415

    path = write(tmp_path, SEED_YAML)
    monkeypatch.setenv("SENDER_CLAIM_IDLE", "99")
    monkeypatch.setenv("SENDER_CONCURRENCY", "7")
    monkeypatch.setenv("PRODUCER_COUNT", "12")
    the_plan = plan({"config": path})
    assert the_plan.producer.count == 12
    assert [p.concurrency for _, p in the_plan.senders] == [7, 7]
    assert [s.claim_idle for s, _ in the_plan.senders] == [99.0, 99.0]
    assert [p.mean_time for _, p in the_plan.senders] == [0.05, 0.10]  # from the file
    assert plan({"config": path, "count": 3}).producer.count == 3  # the flag wins
    assert plan({}).producer.count == 12 and len(plan({}).senders) == 5  # the example fleet


def test_a_role_without_a_named_server_refuses_and_sim_run_is_embedded() -> None:
    """Issue 10: redis_url None meant "embedded" in the launcher and 127.0.0.1:6379 in the
    roles (a standalone monitor showed embedded:// while connected to 6379)."""
    from launcher.simulate import plan  # noqa: PLC0415

    with pytest.raises(UsageProblem, match="no Redis named"):
        _ = load_settings(MonitorSettings).target
    assert plan({}).target.embedded and plan({}).target.display == "embedded fakeredis (in-process)"
    url = "redis://:pw@example:1/0"
    assert load_settings(MonitorSettings, {"redis_url": url}).target.display == (
        "redis://:***@example:1/0"
    )
