"""Issue 25, "Everyday use": the summary is the last thing `sms-sim run` prints; the live
dashboard shows its refresh and counts the senders by status; reset
deletes only a run it is told to, and one that exists; a role waiting for a run names the
runs there are; `--help` shows no `<bool>`, `{run}` or reST marks, and lists the variables
with no option; a misspelt key is named with the key meant."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError
from redis.asyncio import Redis
from rich.console import Console

from common.cli import environment_epilog
from common.configfile import describe
from common.errors import ConfigError
from common.keys import RunKeys
from common.model import SimConfig
from common.run import run_names, runs_on_server, wait_for_run
from common.settings import read_config_file
from launcher.cli import main as sim_app
from monitor.cli import main as monitor_app
from monitor.views.live import LiveView, render
from producer.cli import main as producer_app
from sender.cli import main as sender_app
from sender.station import Station
from tests.commands import Main, Runner
from tests.monitor.support import recorded, sample_report
from tests.roles import produce_now
from tests.support import ROOT, sync_client


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("REDIS_URL", "SMS_RUN", "SMS_CONFIG", "PRODUCER_COUNT", "SENDER_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


# ---- the summary is the last thing `sms-sim run` prints ---------------------------------

FLEET = "".join(
    f"  - {{mean_time: 0.002, failure_rate: 0.2, concurrency: {n}}}\n" for n in (1, 2, 3, 4)
)


def _after_summary(output: str, run: str) -> list[str]:
    """The lines after the summary's sender rows."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if f"run '{run}' complete in" in line)
    tail = lines[start:]
    last_row = max(i for i, line in enumerate(tail) if "status=done" in line)
    return tail[last_row + 1 :]


def test_the_summary_is_the_last_thing_sms_sim_run_prints(
    runner: Runner, tmp_path: Path, redis_url: str, run_name: str
) -> None:
    """Four senders over two processes (this one and a worker): no sender's "done" line
    comes after the summary, which ends the output with its sender rows."""
    (tmp_path / "c.yaml").write_text(
        f"num_messages: 300\nreport_period: 0.2\nsenders:\n{FLEET}", encoding="utf-8"
    )
    args = ["run", "c.yaml", "--redis-url", redis_url, "--run", run_name, "--plain"]
    try:
        done = runner(sim_app, [*args, "--workers", "2"])
    finally:
        sync_client(redis_url).delete(*RunKeys(run_name).all())
    assert done.exit_code == 0, done.output
    assert "2 process(es)" in done.stderr
    assert "done, " not in done.stderr, done.stderr  # no per-sender end line at all
    assert _after_summary(done.stderr, run_name) == []
    assert sum("status=done" in line for line in done.stderr.splitlines()) == 4


def _station(*sent: int) -> Station:
    senders = [SimpleNamespace(name=f"gw-{i}", sent=n) for i, n in enumerate(sent, 1)]
    return SimpleNamespace(senders=senders)  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("sent", "summarised", "expected"),
    [
        ((7,), False, ["sender gw-1: done, 7 delivered"]),
        ((7, 5, 3), False, ["3 senders done, 15 delivered"]),
        ((7, 5, 3), True, []),
        ((7,), True, []),
    ],
)
def test_a_station_says_it_is_done_once(
    caplog: pytest.LogCaptureFixture, sent: tuple[int, ...], summarised: bool, expected: list[str]
) -> None:
    """One sender: its line; several (``sms-sender --gateways``): one line for all; under
    `sms-sim run`'s summary: none but at debug."""
    caplog.set_level(logging.DEBUG, logger="sender.station")
    Station._say_done(_station(*sent), summarised)
    infos = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert infos == expected
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == (0 if len(sent) == 1 and not summarised else len(sent))


# ---- the live dashboard ----------------------------------------------------------------


def test_the_dashboard_says_when_it_was_drawn_and_how_often() -> None:
    title = recorded(render(sample_report(), updated="12:00:07", every=2.04)).splitlines()[0]
    assert "updated 12:00:07, every 2.0 s" in title
    narrow = recorded(render(sample_report(), 80, updated="12:00:07", every=2.0), 80)
    assert "updated 12:00:07" in narrow.splitlines()[0]  # as much as fits
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert "updated" not in recorded(render(sample_report(), 60, updated="12:00:07"), 60)


def test_the_live_view_shows_its_refresh() -> None:
    out = io.StringIO()
    view = LiveView(Console(file=out, width=120, height=60, force_terminal=True))
    view.update(sample_report())
    first = out.getvalue()
    view.update(sample_report())
    second = out.getvalue()[len(first) :]
    view.close()
    assert re.search(r"updated \d\d:\d\d:\d\d", first) and "every" not in first
    assert re.search(r"updated \d\d:\d\d:\d\d, every \d+\.\d s", second)


def test_the_dashboard_counts_the_senders_by_status() -> None:
    text = recorded(render(sample_report()))
    assert re.search(r"│ 3 senders: 1 live, 1 idle, 1 gone +│", text)  # the statuses there are
    lines = text.splitlines()
    census = next(i for i, line in enumerate(lines) if "3 senders:" in line)
    assert "busy/" in lines[census + 1]  # right above the senders' table
    assert "no sender yet" in recorded(render(replace(sample_report(), senders=(), statuses={})))


def test_the_dashboard_with_its_census_still_fits_the_terminal_height() -> None:
    """Paged, the census line says which senders the table shows (no line more)."""
    for height in (10, 12, 20, 30):
        text = recorded(render(sample_report(), 100, height, updated="12:00:00"))
        assert len(text.rstrip("\n").splitlines()) <= height, height
    text = recorded(render(sample_report(), 100, 12))
    assert re.search(r"3 senders: 1 live, 1 idle, 1 gone; senders 1-\d of 3 \(the rest", text)


# ---- sms-sim reset ---------------------------------------------------------------------


def test_reset_without_a_run_named_deletes_nothing(
    runner: Runner, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It deleted the run `default`, whatever was in it."""
    r = sync_client(redis_url)
    keys = RunKeys("default")
    r.hset(keys.run_meta, "total", 5)
    try:
        done = runner(sim_app, ["reset", "--redis-url", redis_url])
        assert done.exit_code == 2, done.output
        assert "name it with --run NAME (nothing deleted)" in done.error
        assert r.exists(keys.run_meta)
        monkeypatch.setenv("SMS_RUN", "default")  # named in the environment: deleted
        done = runner(sim_app, ["reset", "--redis-url", redis_url])
        assert done.exit_code == 0, done.output
        assert "run 'default': deleted " in done.stdout
        assert not r.exists(keys.run_meta)
    finally:
        r.delete(keys.run_meta)


def test_reset_of_a_run_not_there_exits_2_naming_the_runs_there(
    runner: Runner, redis_url: str, run_name: str
) -> None:
    """It said `deleted 0 key(s)` and exited 0."""
    r = sync_client(redis_url)
    keys = RunKeys(run_name)
    r.hset(keys.run_meta, "total", 3)
    typo = run_name[:-1] + ("x" if run_name[-1] != "x" else "y")
    try:
        done = runner(sim_app, ["reset", "--redis-url", redis_url, "--run", typo])
        assert done.exit_code == 2, done.output
        assert f"no run {typo!r} on " in done.error and "nothing deleted" in done.error
        assert f"did you mean {run_name!r}?" in done.error
        assert r.exists(keys.run_meta)
        done = runner(sim_app, ["reset", "--redis-url", redis_url, "--run", run_name])
        assert done.exit_code == 0, done.output
        assert not r.exists(keys.run_meta)
    finally:
        r.delete(keys.run_meta)


# ---- a role waiting for a run names the runs there are ---------------------------------


async def test_waiting_for_a_run_names_the_runs_on_the_server(
    client: Redis, keys: RunKeys, caplog: pytest.LogCaptureFixture
) -> None:
    """`sms-monitor --run typo` (and `sms-sender`) waited for ever without a word of the
    runs there were; it still waits (a producer may come), naming them once."""
    await produce_now(client, keys.run, 3)
    caplog.set_level(logging.INFO, logger="common.run")
    stop = asyncio.Event()
    typo = RunKeys(keys.run + "x")
    waiting = asyncio.create_task(wait_for_run(client, typo, stop, poll=0.01))
    await asyncio.sleep(0.1)
    assert not waiting.done()  # still waiting
    stop.set()
    assert await waiting is None
    (said,) = [r.getMessage() for r in caplog.records if "waiting for run" in r.getMessage()]
    assert said.startswith(f"waiting for run {typo.run!r} to appear (start sms-producer); ")
    assert "runs on this server: " in said  # (other tests' runs too, on a real server)
    assert said.endswith(f"(did you mean {keys.run!r}?)")


async def test_the_runs_named_are_at_most_ten_and_never_a_partition(fake: Redis) -> None:
    assert await runs_on_server(fake) == "no run on this server yet"
    for i in range(12):
        await fake.hset(RunKeys(f"r{i:02}").run_meta, "total", 1)
    await fake.hset(RunKeys("big", 1, 2).meta, "total", 1)  # a partition's own meta
    await fake.set("sms:{other}:outbox", "x")
    names, more = await run_names(fake)
    assert names == [f"r{i:02}" for i in range(12)] and not more
    assert await run_names(fake, limit=5) == ([f"r{i:02}" for i in range(5)], True)
    said = await runs_on_server(fake)
    assert said == "runs on this server: " + ", ".join(f"r{i:02}" for i in range(10)) + ", ..."
    assert "big" not in said
    assert (await runs_on_server(fake, "r11x")).endswith("(did you mean 'r11'?)")  # not shown


async def test_the_runs_of_a_partitioned_run_are_its_name(fake: Redis) -> None:
    await fake.hset(RunKeys("wide").run_meta, "total", 1)
    for part in RunKeys("wide").parts(3):
        await fake.hset(part.meta, "total", 1)
    assert await run_names(fake) == (["wide"], False)


# ---- --help ---------------------------------------------------------------------------

COMMANDS: list[tuple[Main, list[str]]] = [
    (sim_app, []),
    *((sim_app, [c]) for c in ("run", "reset", "runs", "show", "compare", "predict", "plan")),
    (producer_app, []),
    (sender_app, []),
    (monitor_app, []),
]


def _help(runner: Runner, app: Main, args: list[str]) -> str:
    done = runner(app, [*args, "--help"])
    assert done.exit_code == 0, done.output
    return done.stdout


@pytest.mark.parametrize(("app", "args"), COMMANDS)
def test_help_shows_no_typer_or_rest_marks(runner: Runner, app: Main, args: list[str]) -> None:
    text = _help(runner, app, args)
    assert "<bool>" not in text
    assert "``" not in text
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage  # typer writes a required argument {run}


def test_help_names_arguments_in_capitals(runner: Runner) -> None:
    assert "Usage: sms-sim show [OPTIONS] RUN " in _help(runner, sim_app, ["show"])
    assert "Usage: sms-sim compare [OPTIONS] RUN_A RUN_B " in _help(runner, sim_app, ["compare"])
    assert "Usage: sms-sim run [OPTIONS] [CONFIG] " in _help(runner, sim_app, ["run"])


def test_help_reads_as_prose(runner: Runner) -> None:
    """The sender's docstring kept its line breaks: 'the' ended one line, 'config's'
    began the next, in the middle of the panel."""
    text = " ".join(_help(runner, sender_app, []).split())
    assert "claims the next profile of the config's senders list; with --gateways N" in text


def _epilog(text: str) -> dict[str, str]:
    """Variable -> the rest of its line, from the epilog of a help text."""
    lines = text.split("Also read from the environment (or .env), with no option here:")[1]
    found: dict[str, str] = {}
    name = ""
    for line in lines.strip().splitlines():
        entry = re.match(r"\s*([A-Z][A-Z_]+)(=\S*)?(\s.*)?$", line)
        if entry:
            name = entry.group(1)
            found[name] = (entry.group(3) or "").strip()
        elif line.strip():  # a meaning the terminal's width wrapped
            found[name] += " " + line.strip()
    return found


@pytest.mark.parametrize(
    ("app", "args", "expected"),
    [
        (producer_app, [], {"PRODUCER_BATCH_SIZE", "PRODUCER_INVALID_FRACTION"}),
        (sender_app, [], {"SENDER_BLOCK"}),
        (monitor_app, [], set()),
        (sim_app, ["reset"], set()),
        (sim_app, ["runs"], set()),
        (
            sim_app,
            ["run"],
            {
                "SENDER_CONCURRENCY",
                "SENDER_MEAN_TIME",
                "PRODUCER_MAX_BACKLOG",
                "MONITOR_KEEP_RESULTS",
            },
        ),
    ],
)
def test_help_lists_the_variables_with_no_option(
    runner: Runner, app: Main, args: list[str], expected: set[str]
) -> None:
    """The README said `--help` shows the variables; those with no flag were nowhere."""
    shared = {"LOG_LEVEL", "REDIS_GIVE_UP", "REDIS_ALLOW_EVICTION"}
    text = _help(runner, app, args)
    listed = _epilog(text)
    assert shared | expected <= set(listed), listed
    assert "REDIS_GIVE_UP=60" in text and "LOG_LEVEL=INFO" in text
    options = set(re.findall(r"env var: ([A-Z_]+)", text))
    assert not options & set(listed)  # an option's variable is shown with the option
    assert "SMS_RUN" not in listed and "REDIS_URL" not in listed
    assert all(listed.values()), listed  # each with its meaning


def test_sms_sim_run_does_not_list_what_it_ignores(runner: Runner) -> None:
    listed = _epilog(_help(runner, sim_app, ["run"]))
    assert "SENDER_GATEWAYS" not in listed  # one sender per profile, whatever it says
    assert "SENDER_PROFILES" not in listed and "PRODUCER_ACCOUNT" not in listed  # the YAML's


def test_predict_reads_no_role_variable(runner: Runner) -> None:
    assert "Also read from the environment" not in _help(runner, sim_app, ["predict"])


@pytest.mark.parametrize(("app", "args"), COMMANDS)
def test_every_variable_listed_has_a_meaning(runner: Runner, app: Main, args: list[str]) -> None:
    """A new settings field read with no option needs a description (or MEANINGS)."""
    text = _help(runner, app, args)
    if "Also read from the environment" in text:
        listed = _epilog(text)
        assert listed and all(listed.values()), listed


def test_the_readme_variables_are_all_in_some_help(runner: Runner) -> None:
    """What the README's table of variables names, `--help` shows."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("| variable | meaning |")[1].split("\n\n")[0]
    named: set[str] = set()
    for row in table.splitlines()[2:]:
        cells = row.split("|")
        first = re.findall(r"`([A-Z_]+)`", cells[1])
        if len(first) == 1 and first[0].endswith("_"):
            named |= {first[0] + rest for rest in re.findall(r"`([A-Z_]+)`", cells[2])}
        else:
            named |= set(first)
    assert {"REDIS_GIVE_UP", "LOG_LEVEL", "SENDER_BLOCK", "PRODUCER_BATCH_SIZE"} <= named
    shown = " ".join(_help(runner, app, args) for app, args in COMMANDS)
    missing = {name for name in named if not re.search(rf"\b{name}\b", shown)}
    assert not missing


def test_an_epilog_is_made_for_a_command_that_reads_nothing_else() -> None:
    assert environment_epilog(SimpleNamespace(params=[], callback=None)) == ""


# ---- a misspelt key --------------------------------------------------------------------

ONE = "senders:\n  - {mean_time: 0.1, failure_rate: 0.2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a required key misspelt: it was `senders.0.mean_time: Field required`
        (
            "senders:\n  - {mean_tim: 0.1, failure_rate: 0.2}\n",
            "senders.0.mean_tim: unknown option (did you mean 'mean_time'?)",
        ),
        (
            "num_mesages: 5\n" + ONE + "}\n",
            "num_mesages: unknown option (did you mean 'num_messages'?)",
        ),
        (
            ONE + ", concurency: 3}\n",
            "senders.0.concurency: unknown option (did you mean 'concurrency'?)",
        ),
        (
            "account: {max_rat: 3}\n" + ONE + "}\n",
            "account.max_rat: unknown option (did you mean 'max_rate'?)",
        ),
        (
            ONE + ", outages: [{at: 1, fro: 3}]}\n",
            "senders.0.outages.0.fro: unknown option (did you mean 'for'?)",
        ),
        ("colour: blue\n" + ONE + "}\n", "colour: unknown option"),
        # a key missing and another unknown, far from it: the missing key is the news
        ("senders:\n  - {failure_rate: 0.2, colour: red}\n", "senders.0.mean_time: Field required"),
    ],
)
def test_a_misspelt_key_is_named_with_the_key_meant(
    tmp_path: Path, text: str, expected: str
) -> None:
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_config_file(tmp_path / "c.yaml")
    assert str(caught.value) == f"{tmp_path / 'c.yaml'}: {expected}"


def test_a_misspelt_required_key_is_one_line_exit_2(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("senders:\n  - {mean_tim: 0.1, failure_rate: 0.2}\n")
    done = runner(sim_app, ["run", "c.yaml"])
    assert done.exit_code == 2
    assert done.error.endswith(
        "c.yaml: senders.0.mean_tim: unknown option (did you mean 'mean_time'?)"
    )


def test_describe_without_a_model_of_that_name_still_says_unknown() -> None:
    class Elsewhere(BaseModel):  # not the project's: no model to suggest from
        model_config = ConfigDict(extra="forbid")
        speed: int = 1

    with pytest.raises(ValidationError) as caught:
        Elsewhere.model_validate({"sped": 2})
    assert describe(caught.value) == "sped: unknown option"
    with pytest.raises(ValidationError) as caught:
        SimConfig.model_validate({"sendrs": []})
    assert describe(caught.value) == "sendrs: unknown option (did you mean 'senders'?)"
