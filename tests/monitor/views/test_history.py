"""Issue 14 items 2 and 3: run history (`sms-sim runs`, `show`, `compare`) on a real
redis-server, the per-period CSV (`--csv`), and their bad-input lines, all through the
commands' ``main``."""

from __future__ import annotations

import asyncio
import csv
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.asyncio import Redis

from common import keys as k
from common.errors import RunMissing
from common.keys import RunKeys
from common.run import RunState
from launcher.cli import main as sim_app
from launcher.runs_text import compare_text, show_text
from monitor.cli import main as monitor_app
from monitor.figures.report import build
from monitor.figures.snapshot import Snapshot
from monitor.tally.stats import Stats
from monitor.views import history
from monitor.views.csvfile import HEADER, PeriodCsv
from producer.cli import main as producer_app
from tests.commands import Runner
from tests.monitor.support import sample_report
from tests.roles import produce_now, send_all, watch

CONFIG = (
    "num_messages: 80\nreport_period: 0.05\nsenders:\n"
    "  - {mean_time: 0.001, failure_rate: 0.3}\n"
    "  - {mean_time: 0.002, failure_rate: 0.1, concurrency: 2}\n"
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("REDIS_URL", "SMS_RUN", "SMS_CONFIG", "MONITOR_CSV", "MONITOR_METRICS_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(CONFIG, encoding="utf-8")


@pytest.fixture
def runs(redis_url: str) -> Iterator[list[str]]:
    """Unique run names for a test; every key of them deleted afterwards."""
    names = [f"h-{uuid.uuid4().hex[:8]}-{i}" for i in range(3)]
    yield names
    client = redis.Redis.from_url(redis_url)
    for name in names:
        client.delete(*RunKeys(name).all())
    client.close()


def simulate(runner: Runner, url: str, run: str, *extra: str) -> dict[str, object]:
    result = runner(sim_app, ["run", "c.yaml", "--redis-url", url, "--run", run, "--json", *extra])
    assert result.exit_code == 0, result.stderr
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


def test_runs_show_and_compare_finished_runs(
    runner: Runner, redis_url: str, runs: list[str]
) -> None:
    first, second, _ = runs
    summary_a = simulate(runner, redis_url, first, "--plain", "--seed", "1")
    simulate(runner, redis_url, second, "--plain", "--seed", "2")

    listed = runner(sim_app, ["runs", "--redis-url", redis_url])
    assert listed.exit_code == 0, listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert {first, second} <= lines.keys()
    assert lines[first].split()[4:6] == ["80", "80"]  # sent, total (after a date and a time)
    assert listed.stdout.index(second) < listed.stdout.index(first)  # newest first
    as_json = json.loads(runner(sim_app, ["runs", "--redis-url", redis_url, "--json"]).stdout)
    assert {r["run"]: r["summary"] for r in as_json}[first] == summary_a

    shown = runner(sim_app, ["show", first, "--redis-url", redis_url, "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout) == summary_a  # as --json printed it
    text = runner(sim_app, ["show", first, "--redis-url", redis_url]).stdout
    assert f"run '{first}'" in text and "failed attempts" in text
    for sender in summary_a["senders"]:  # type: ignore[attr-defined]
        assert sender["name"] in text

    compared = runner(sim_app, ["compare", first, second, "--redis-url", redis_url])
    assert compared.exit_code == 0, compared.stderr
    header, *rows = compared.stdout.splitlines()
    assert header.split() == [first, second, "difference"]
    row = {r.split("  ")[0].strip(): r for r in rows}
    assert row["sent (messages delivered)"].split()[-2:] == ["80", "80"]  # no difference
    for label in ("elapsed", "overall rate", "queue wait + send (enqueue to delivered) p95"):
        assert label in row, label
    profiles = [r for r in rows if r.startswith("profile ")]
    assert profiles == [
        "profile mean 0.001 s, failure rate 30.0%",
        "profile mean 0.002 s, failure rate 10.0%",
    ]


def test_a_missing_or_unfinished_run_is_one_line(
    runner: Runner, redis_url: str, runs: list[str]
) -> None:
    finished, unfinished, missing = runs
    simulate(runner, redis_url, finished, "--plain")
    made = runner(producer_app, ["--count", "5", "--run", unfinished, "--redis-url", redis_url])
    assert made.exit_code == 0, made.stderr  # enqueued; no sender: never finishes
    for args, expected in [
        (["show", missing], f"no run '{missing}'"),
        (["show", unfinished], f"run '{unfinished}' has not finished (0 of 5"),
        (["compare", finished, missing], f"no run '{missing}'"),
        (["compare", finished, unfinished], f"run '{unfinished}' has not finished"),
    ]:
        result = runner(sim_app, [*args, "--redis-url", redis_url])
        assert result.exit_code == 2, result.stdout + result.stderr
        assert expected in result.error
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["runs"], ["show", "x"], ["compare", "x", "y"]])
def test_history_needs_a_redis_server(runner: Runner, command: list[str]) -> None:
    result = runner(sim_app, command)
    assert result.exit_code == 2
    assert f"{command[0]} needs --redis-url or REDIS_URL" in result.error


def test_reset_deletes_the_kept_summary(runner: Runner, redis_url: str, runs: list[str]) -> None:
    run = runs[0]
    simulate(runner, redis_url, run, "--plain")
    assert runner(sim_app, ["show", run, "--redis-url", redis_url]).exit_code == 0
    assert runner(sim_app, ["reset", "--run", run, "--redis-url", redis_url]).exit_code == 0
    assert "no run" in runner(sim_app, ["show", run, "--redis-url", redis_url]).error


async def test_a_monitor_started_after_the_end_keeps_the_summary(
    runner: Runner, redis_url: str, runs: list[str]
) -> None:
    run = runs[0]
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        await produce_now(client, run, 12)
        await send_all(client, run)  # no monitor ran: complete, with no summary
        result = await asyncio.to_thread(runner, sim_app, ["show", run, "--redis-url", redis_url])
        assert "complete but no monitor kept its summary" in result.error
        snap = await watch(client, run)
        stored = await history.load(client, run)
        assert snap is not None and stored is not None
        assert stored.summary["sent"] == 12 == snap.sent
        assert stored.created > 0 and stored.finished >= stored.created
    finally:
        await client.aclose()


async def test_the_summary_is_written_only_for_the_run_it_belongs_to(
    fake: Redis, keys: RunKeys
) -> None:
    await produce_now(fake, keys.run, 5)
    await send_all(fake, keys.run)
    snap = await watch(fake, keys.run)
    assert snap is not None and await fake.exists(keys.summary)  # the monitor kept it
    await fake.delete(keys.summary)
    with pytest.raises(RunMissing):  # another incarnation of the run: nothing written
        await history.keep(fake, keys, "not-this-run", snap)
    assert not await fake.exists(keys.summary)


async def test_runs_are_found_with_scan_among_many_keys(redis_url: str, runs: list[str]) -> None:
    client = Redis.from_url(redis_url, decode_responses=True)
    filler = f"filler:{uuid.uuid4().hex}:"
    try:
        await client.mset({f"{filler}{i}": "x" for i in range(2500)})  # several SCAN pages
        for run in runs:
            await client.hset(
                RunKeys(run).summary,
                mapping={"summary": json.dumps({"run": run}), "created": "1", "finished": "2"},
            )
        found = {r.run for r in await history.find_runs(client)}
        assert set(runs) <= found
    finally:
        await client.delete(*(f"{filler}{i}" for i in range(2500)))
        await client.aclose()


async def test_a_key_named_like_a_summary_that_is_none_is_skipped(
    runner: Runner, redis_url: str, runs: list[str]
) -> None:
    """``sms:{x}:summary`` of another type (issue 24): left out with a warning; `sms-sim
    runs` lists the others and exits 0 (it exited 1)."""
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        await client.set(RunKeys(runs[0]).summary, "not a hash")
        await client.hset(
            RunKeys(runs[1]).summary,
            mapping={"summary": json.dumps({"run": runs[1]}), "created": "1", "finished": "2"},
        )
        found = {r.run for r in await history.find_runs(client)}
        assert runs[1] in found and runs[0] not in found
        listed = await asyncio.to_thread(runner, sim_app, ["runs", "--redis-url", redis_url])
        assert listed.exit_code == 0, listed.error
        assert runs[1] in listed.stdout
    finally:
        await client.aclose()


async def test_duplicates_recorded_after_the_summary_are_counted_in(
    fake: Redis, keys: RunKeys
) -> None:
    """A sender's last duplicate delivery lands after the last monitor kept the summary
    (issue 24): `show` counts it, from the run's own counter."""
    await produce_now(fake, keys.run, 5)
    await send_all(fake, keys.run)
    assert await watch(fake, keys.run) is not None
    before = await history.load(fake, keys.run)
    assert before is not None and before.summary["duplicates_suppressed"] == 0
    await fake.hincrby(keys.meta, k.META_DUPLICATES, 2)  # what record.lua counts
    after = await history.load(fake, keys.run)
    assert after is not None and after.summary["duplicates_suppressed"] == 2


# --- the per-period CSV ---------------------------------------------------------------


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_csv_has_one_row_per_report_and_ends_with_the_summary(
    runner: Runner, tmp_path: Path
) -> None:
    out = tmp_path / "periods.csv"
    result = runner(sim_app, ["run", "c.yaml", "--plain", "--json", "--csv", str(out)])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    plain_lines = [x for x in result.stderr.splitlines() if x.startswith("run=")]
    with out.open(encoding="utf-8") as f:
        assert f.readline().strip() == ",".join(HEADER)
    rows = read_rows(out)
    assert len(rows) == len(plain_lines) >= 2  # one per report, the final one included
    last = rows[-1]
    assert last["state"] == "complete" and int(last["sent"]) == summary["sent"] == 80
    assert int(last["failed_attempts"]) == summary["failed_attempts"]
    assert int(last["attempts"]) == summary["attempts"]
    assert float(last["wait_p95"]) == pytest.approx(summary["latency"]["p95"], abs=1e-6)
    assert float(last["avg_rate"]) == pytest.approx(summary["throughput"], rel=1e-3)
    sent = [int(r["sent"]) for r in rows]
    assert sent == sorted(sent)
    times = [float(r["time"]) for r in rows]
    assert times == sorted(times)


def test_csv_rows_are_on_disk_as_each_report_is_made(tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    writer = PeriodCsv(out)
    state = RunState(total=10, produced=10, done=False, delivered=0, abandoned=0)
    writer.update(build(Snapshot("r", state, Stats(), created=100.0, now=101.0)))
    rows = read_rows(out)  # the file still open: a killed monitor leaves this much
    assert (
        len(rows) == 1 and rows[0]["sent"] == "0" and rows[0]["wait_p50"] == ""
    )  # unknown before the first delivery
    writer.close()


@pytest.mark.parametrize(
    ("path", "expected"),
    [(".", "is a directory"), ("c.yaml/p.csv", "not a writable directory")],
)
def test_a_csv_path_that_cannot_be_written_is_refused_at_start(
    runner: Runner, path: str, expected: str
) -> None:
    for app, args in [
        (sim_app, ["run", "c.yaml"]),
        (monitor_app, ["--redis-url", "redis://h:1/0"]),
    ]:
        result = runner(app, [*args, "--csv", path])
        assert result.exit_code == 2, result.stderr
        assert "csv" in result.error and expected in result.error


# --- issue 25: what a kept run says of itself ----------------------------------------

COMPRESSED = (
    "num_messages: 80\nreport_period: 0.05\ntime_scale: 20\ninvalid_fraction: 0.1\n"
    "senders:\n"
    "  - {mean_time: 0.001, failure_rate: 0.5, max_attempts: 2}\n"
    "  - {mean_time: 0.002, failure_rate: 0.1, concurrency: 2}\n"
)


def test_a_kept_run_keeps_its_configuration_failures_and_time_scale(
    runner: Runner, redis_url: str, runs: list[str], tmp_path: Path
) -> None:
    """`show` gives the configuration the run ran, its failures by reason, the whole
    percentile ladder and its time scale; `compare` names the configuration's keys that
    differ; `runs` says which runs' times are simulated, and their predicted completion."""
    first, second, _ = runs
    (tmp_path / "x20.yaml").write_text(COMPRESSED, encoding="utf-8")
    simulate(runner, redis_url, first, "--plain", "--seed", "1")
    result = runner(sim_app, ["run", "x20.yaml", "--redis-url", redis_url, "--run", second,
                              "--json", "--plain", "--seed", "2"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["time_scale"] == 20.0
    failures = summary["failures"]
    assert isinstance(failures, list) and {f["kind"] for f in failures} <= {
        "abandoned",
        "undeliverable",
    }
    counted = {kind: sum(f["count"] for f in failures if f["kind"] == kind)
               for kind in ("abandoned", "undeliverable")}  # fmt: skip
    assert counted == {"abandoned": summary["abandoned"], "undeliverable": summary["undeliverable"]}

    listed = runner(sim_app, ["runs", "--redis-url", redis_url]).stdout
    lines = {line.split()[0]: line for line in listed.splitlines()[1:]}
    assert "simulated x20" in lines[second] and " real " in lines[first]
    predicted = summary["predicted_completion"]
    assert isinstance(predicted, float) and f"{predicted:.3f} s" in lines[second]

    shown = runner(sim_app, ["show", second, "--redis-url", redis_url]).stdout
    assert "simulated at x20" in shown and "took " in shown and "x20); predicted " in shown
    assert "percentiles (simulated s)" in shown and "p99.9" in shown and "max" in shown
    assert "failures (dead stream, by reason):" in shown
    config = shown[shown.index("configuration:") :]
    kept = [
        ("time_scale", "20.0"),
        ("invalid_fraction", "0.1"),
        ("senders[0].max_attempts", "2"),
        ("senders[1].concurrency", "2"),
    ]
    for key, value in kept:
        assert re.search(rf"\n  {re.escape(key)} +{re.escape(value)}\n", config + "\n"), key

    compared = runner(sim_app, ["compare", first, second, "--redis-url", redis_url]).stdout
    assert re.search(r"\ntimes +real +simulated x20\n", compared)
    changes = compared[compared.index("configuration (keys that differ)") :].splitlines()[1:]
    changed = {line.split()[0]: line.split()[1:] for line in changes}
    assert changed["time_scale"] == ["1.0", "20.0"]
    assert changed["invalid_fraction"] == ["0.0", "0.1"]
    assert changed["senders[0].failure_rate"] == ["0.3", "0.5"]
    assert changed["senders[0].max_attempts"] == ["-", "2"]
    assert "num_messages" not in changed and "senders[1].concurrency" not in changed

    as_json = json.loads(runner(sim_app, ["runs", "--redis-url", redis_url, "--json"]).stdout)
    by_run = {r["run"]: r for r in as_json}
    assert by_run[second]["state"] == "complete" and by_run[second]["config"]["time_scale"] == 20


async def test_runs_without_a_summary_are_listed_running_or_interrupted(
    runner: Runner, redis_url: str, runs: list[str]
) -> None:
    """A run stopped before completion keeps no summary: `runs` lists it from its meta,
    ``interrupted`` (no sender at work) or ``running`` (a sender's fresh heartbeat), with
    how far it got; `show` says which."""
    stopped, going, _ = runs
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        for run in (stopped, going):
            await produce_now(client, run, 7)
        now = float((await client.time())[0])
        beat = json.dumps({"status": "live", "heartbeat": now, "mean_time": 0.1})
        await client.hset(RunKeys(going).senders, "gw-1", beat)
        listed = await asyncio.to_thread(runner, sim_app, ["runs", "--redis-url", redis_url])
        lines = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
        assert lines[stopped][1:5] == ["-", "interrupted", "0", "7"]
        assert lines[going][1:5] == ["-", "running", "0", "7"]
        as_json = await asyncio.to_thread(
            runner, sim_app, ["runs", "--redis-url", redis_url, "--json"]
        )
        found = {r["run"]: r for r in json.loads(as_json.stdout)}
        assert found[stopped]["state"] == "interrupted" and found[stopped]["summary"] is None
        assert (found[stopped]["sent"], found[stopped]["total"]) == (0, 7)
        shown = await asyncio.to_thread(runner, sim_app, ["show", going, "--redis-url", redis_url])
        assert shown.exit_code == 2 and "running: a sender is at work" in shown.error
        shown = await asyncio.to_thread(
            runner, sim_app, ["show", stopped, "--redis-url", redis_url]
        )
        assert "interrupted: no sender at work" in shown.error
    finally:
        await client.aclose()


async def test_the_kept_configuration_is_the_runs(fake: Redis, keys: RunKeys) -> None:
    await produce_now(fake, keys.run, 6, seed=9, max_backlog=100)
    await send_all(fake, keys.run, mean_time=0.0, failure_rate=0.0, concurrency=3)
    assert await watch(fake, keys.run) is not None
    stored = await history.load(fake, keys.run)
    assert stored is not None and stored.config is not None
    config = stored.config
    assert (config["num_messages"], config["seed"], config["max_backlog"]) == (6, 9, 100)
    assert (config["time_scale"], config["partitions"]) == (1.0, 1)
    ((profile),) = config["senders"]
    assert profile["senders"] == 1 and profile["concurrency"] == 3
    assert profile["mean_time"] == 0.0


def test_an_older_summary_without_configuration_or_ladder_still_shows() -> None:
    old = {"run": "old", "state": "complete", "latency": {"p50": 0.1, "p95": 0.2, "p99": 0.3}}
    stored = history.StoredRun("old", old, 1.0, 2.0)
    shown = show_text(stored)
    assert "configuration:" not in shown and "failures (" not in shown
    row = next(line for line in shown.splitlines() if line.startswith("  queue wait"))
    assert row.split()[-9:] == ["-", "0.1000", "-", "-", "-", "0.2000", "0.3000", "-", "-"]
    compared = compare_text(stored, stored)
    assert "configuration: not kept for old and old" in compared


def test_csv_writes_the_senders_and_the_failures_beside_the_periods(
    runner: Runner, tmp_path: Path
) -> None:
    """Beside ``periods.csv``: ``periods-senders.csv`` (a row per sender, its latest
    figures, percentiles as their whole ladder) and ``periods-failures.csv`` (the
    failures table), as Locust writes stats and failures beside its history; the period
    file's columns include ``run`` and ``undeliverable`` (they were there already)."""
    (tmp_path / "x20.yaml").write_text(COMPRESSED, encoding="utf-8")
    out = tmp_path / "periods.csv"
    result = runner(sim_app, ["run", "x20.yaml", "--plain", "--json", "--csv", str(out)])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    last = read_rows(out)[-1]
    assert last["run"] == summary["run"] and int(last["undeliverable"]) == summary["undeliverable"]
    assert float(last["wait_p99_9"]) == pytest.approx(summary["latency"]["p99_9"], abs=1e-6)
    assert float(last["attempt_max"]) == pytest.approx(summary["attempt_time"]["max"], abs=1e-6)

    senders = read_rows(tmp_path / "periods-senders.csv")
    assert [r["sender"] for r in senders] == [s["name"] for s in summary["senders"]]
    for row, kept in zip(senders, summary["senders"], strict=True):
        assert row["run"] == summary["run"] and row["status"] == kept["status"] == "done"
        assert int(row["sent"]) == kept["sent"] and int(row["attempts"]) == kept["attempts"]
        assert float(row["attempt_p99_9"]) == pytest.approx(kept["attempt_time"]["p99_9"])
    assert list(senders[0])[:4] == ["time", "run", "sender", "status"]

    failures = read_rows(tmp_path / "periods-failures.csv")
    assert [(r["kind"], r["reason"], int(r["count"])) for r in failures] == [
        (f["kind"], f["reason"], f["count"]) for f in summary["failures"]
    ]
    assert failures and {r["run"] for r in failures} == {summary["run"]}
    assert not list(tmp_path.glob(".*.part"))  # each written whole, then renamed


def test_the_senders_csv_holds_each_reports_senders_as_soon_as_made(tmp_path: Path) -> None:
    writer = PeriodCsv(tmp_path / "p.csv")
    assert read_rows(tmp_path / "p-senders.csv") == []  # written (its header) at start
    writer.update(sample_report())
    rows = read_rows(tmp_path / "p-senders.csv")
    assert [r["sender"] for r in rows] == ["gw-a", "gw-b", "gw-c"]
    assert rows[2]["avg_attempt"] == "" and rows[0]["attempt_p50"] != ""
    assert not (tmp_path / "p-failures.csv").exists()  # only at the end, once counted
    writer.close()
