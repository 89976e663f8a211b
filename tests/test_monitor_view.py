"""The monitor's views: the rich dashboard, plain key=value lines, sender statuses,
rates and predictions, the JSON summary, and giving the terminal back."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
import re
import subprocess
import sys
from html import escape
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from rich.console import Console

from common import keys as k
from common.heartbeat import Heartbeat
from common.keys import RunKeys
from common.results import Result
from common.run import RunState
from common.settings import MonitorSettings
from monitor import report as report_module
from monitor.fleet import fleet
from monitor.health import FRESH, GONE, GONE_AFTER, IDLE, LIVE, RECENT_WORK, sender_status
from monitor.html import report_html
from monitor.live import LiveView, render, summary_table
from monitor.main import Monitor
from monitor.report import LABELS
from monitor.stats import Stats
from monitor.summary import Snapshot, summary
from monitor.views import PlainView, final_text, make_view, plain_line
from tests.support import ROOT

NOW = 1_700_000_100.0
ESC = "\x1b"


def info(name: str, **kw: Any) -> Heartbeat:
    base: dict[str, Any] = {
        "mean_time": 0.1,
        "failure_rate": 0.5,
        "concurrency": 1,
        "status": "live",
        "heartbeat": NOW - 0.5,
        "shape": 10.0,
        "inflight": 1,
    }
    return Heartbeat(name, **{**base, **kw})


def sample_stats() -> Stats:
    """gw-a: 6 delivered, 4 failed attempts; gw-b: 3 delivered, 1 duplicate."""
    stats = Stats()
    for i in range(10):
        ok = i >= 4
        stats.apply(Result(i, "gw-a", 1, ok, 0.1, NOW - 1, 0.5 if ok else None))
    for i in range(3):
        stats.apply(Result(10 + i, "gw-b", 1, True, 0.2, NOW - 30, 1.0))
    stats.apply(Result(10, "gw-b", 2, True, 0.2, NOW - 30, 1.0, dup=True))
    return stats


def sample_snapshot(**kw: Any) -> Snapshot:
    senders = {
        "gw-a": info("gw-a"),
        "gw-b": info("gw-b", mean_time=0.2, failure_rate=0.2, concurrency=2, inflight=0),
        "gw-c": info("gw-c", status="stopped"),
    }
    base: dict[str, Any] = {
        "run": "blast-1",
        "state": RunState(total=100, produced=100, done=True, delivered=9, abandoned=1),
        "stats": sample_stats(),
        "senders": senders,
        "created": NOW - 20,
        "now": NOW,
        "url": "redis://ops:***@redis.internal:6379/0",
    }
    return Snapshot(**{**base, **kw})


def recorded(renderable: Any, width: int = 100) -> str:
    console = Console(record=True, width=width, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


# -- the dashboard ----------------------------------------------------------------------


def test_dashboard_shows_every_figure_at_width_100() -> None:
    text = recorded(render(sample_snapshot()))
    for label in (
        "blast-1",
        "elapsed 20.0s",
        "redis redis://ops:***@redis.internal:6379/0",
        "sent 9 / 100  9.0%  90 left",
        "rate (last 10 s)",
        "overall rate",
        "predicted overall",
        "ETA",
        "predicted finish",
        "failed attempts",
        "attempts",
        "failure ratio",
        "avg time/attempt",
        "avg time/message",
        "delivery time",
        "queue wait + send",
        "attempt time",
        "duplicates suppressed",
        "abandoned",
        "dead letters",
    ):
        assert label in text, label
    # predicted now: gw-a 1 * 0.5 / 0.1 = 5; gw-b 2 * 0.8 / 0.2 = 8; gw-c is gone
    assert re.search(r"predicted now\s+13\.0 msg/s", text)
    # over the run: gw-c (5 msg/s) too, up for 19.5 of the 20 s
    assert re.search(r"predicted overall\s+17\.9 msg/s", text)
    assert re.search(r"p50\s+p95\s+p99", text)
    assert re.search(r"rate \(last 10 s\)\s+0\.6 msg/s", text)  # 6 delivered 1 s ago
    assert re.search(r"failure ratio\s+28\.6%", text)  # 4 of 14 attempts
    assert re.search(r"duplicates suppressed\s+1\b", text)
    assert re.search(r"ETA\s+2m30s", text)  # 90 left at 0.6 msg/s


def test_dashboard_has_one_row_per_sender_with_status_and_share() -> None:
    lines = recorded(render(sample_snapshot())).splitlines()
    row = {n: next(line for line in lines if f" {n} " in line) for n in ("gw-a", "gw-b", "gw-c")}
    # status, busy/slots, sent, share, failed attempts, cfg/obs mean, cfg/obs failure ratio
    assert re.search(r"live\s+1/1\s+6\s+66\.7%\s+4\s+100ms\s+100ms\s+50\.0%\s+40\.0%", row["gw-a"])
    assert re.search(r"idle\s+0/2\s+3\s+33\.3%\s+0\s+200ms\s+200ms\s+20\.0%\s+0\.0%", row["gw-b"])
    assert re.search(r"gone\s+-/1\s+0\s+0\.0%\s+0\s+100ms\s+-\s+50\.0%\s+-", row["gw-c"])


def test_dashboard_fits_an_80_column_terminal() -> None:
    text = recorded(render(sample_snapshot(), width=80), width=80)
    assert "13.0 msg/s" in text
    assert "…" not in text.replace("gw-", "")  # no figure cut short
    assert max(len(line) for line in text.splitlines()) <= 80


def test_live_view_stops_cleanly_and_prints_the_final_summary() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True)
    view = LiveView(console)
    view.update(sample_snapshot())
    assert view._live is not None and view._live.is_started
    view.finish(sample_snapshot())
    assert view._live is None
    text = out.getvalue()
    assert "final summary" in text
    assert "avg time/message (incl. retries)" in text
    view.close()  # twice is harmless


def test_log_lines_go_through_the_live_display_and_come_back() -> None:
    handler = logging.StreamHandler(sys.stderr)
    original = handler.stream
    logging.getLogger().addHandler(handler)
    try:
        view = LiveView(Console(file=io.StringIO(), width=100, force_terminal=True))
        view.update(sample_snapshot())
        assert handler.stream is not original  # rich's stderr proxy while live
        view.close()
        assert handler.stream is original
    finally:
        logging.getLogger().removeHandler(handler)


class ExplodingView:
    def __init__(self) -> None:
        self.closed = False

    def update(self, snap: Snapshot) -> None:
        raise RuntimeError("boom")

    def finish(self, snap: Snapshot) -> None:
        raise AssertionError("not reached")

    def close(self) -> None:
        self.closed = True


async def test_monitor_closes_the_view_when_it_fails(fake: Redis, keys: RunKeys) -> None:
    await fake.hset(keys.meta, mapping={k.META_TOTAL: 5, k.META_CREATED: NOW})
    view = ExplodingView()
    monitor = Monitor(fake, MonitorSettings(run=keys.run, report_period=0.05), view)
    with pytest.raises(RuntimeError, match="boom"):
        await asyncio.wait_for(monitor.watch(asyncio.Event()), 5)
    assert view.closed


async def test_snapshot_masks_the_redis_password(fake: Redis, keys: RunKeys) -> None:
    settings = MonitorSettings(run=keys.run, redis_url="redis://ops:s3cret@db.example:6380/1")
    monitor = Monitor(fake, settings, PlainView(io.StringIO()))
    snap = await monitor.snapshot(RunState(10, 10, True, 0, 0))
    assert "s3cret" not in snap.url
    assert snap.url == "redis://ops:***@db.example:6380/1"
    assert "s3cret" not in recorded(render(snap))


def test_make_view_picks_plain_unless_stderr_is_a_terminal() -> None:
    assert isinstance(make_view(True, tty=True), PlainView)
    assert isinstance(make_view(False, tty=False), PlainView)
    assert isinstance(make_view(False, tty=True), LiveView)


# -- plain mode ---------------------------------------------------------------------------


def parse_plain(line: str) -> dict[str, str]:
    pairs = [token.split("=", 1) for token in line.split(" ")]
    assert all(len(p) == 2 and p[0] and p[1] for p in pairs), line
    keys = [p[0] for p in pairs]
    assert len(keys) == len(set(keys)), line
    return {key: value for key, value in pairs}


def test_plain_line_is_key_value_without_escape_codes() -> None:
    line = plain_line(sample_snapshot())
    assert ESC not in line and "\n" not in line
    fields = parse_plain(line)
    assert fields["run"] == "blast-1"
    assert fields["sent"] == "9/100"
    assert fields["pct"] == "9.0"
    assert fields["failed_attempts"] == "4"
    assert fields["attempts"] == "14"
    assert fields["rate"] == "0.6/s"
    assert fields["pred_rate"] == "17.9/s"  # over the run: gw-c was up 19.5 of 20 s
    assert fields["pred_now"] == "13.0/s"
    assert fields["fail_ratio"] == "28.6%"
    assert fields["eta"] == "150.0s"
    assert fields["dups"] == "1"
    assert fields["abandoned"] == "1"
    assert (fields["live"], fields["idle"], fields["gone"], fields["done"]) == ("1", "1", "1", "0")
    timed = ["avg_attempt", "avg_per_msg", "elapsed"]
    timed += [
        f"{figure}_{p}" for figure in ("delivery", "wait", "attempt") for p in ("p50", "p95", "p99")
    ]
    for key in timed:
        assert re.fullmatch(r"\d+\.\d+s", fields[key]), key


def test_plain_line_keeps_a_spaced_run_name_in_one_token() -> None:
    fields = parse_plain(plain_line(sample_snapshot(run="night blast=2")))
    assert fields["run"] == "night_blast_2"


def test_plain_view_prints_one_line_per_update_then_the_summary() -> None:
    out = io.StringIO()
    view = PlainView(out)
    view.update(sample_snapshot())
    view.update(sample_snapshot())
    view.finish(sample_snapshot())
    lines = out.getvalue().splitlines()
    assert all(parse_plain(line) for line in lines[:3])
    assert "\n".join(lines[3:]) == final_text(sample_snapshot())
    assert ESC not in out.getvalue()


# -- sender statuses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("beat_age", "status", "inflight", "result_age", "expected"),
    [
        (0.5, "live", 1, 100.0, LIVE),  # fresh, working
        (0.5, "live", 0, 1.0, LIVE),  # fresh, between messages but sent just now
        (FRESH, "live", 1, 100.0, LIVE),  # at the freshness limit
        (0.5, "live", 0, RECENT_WORK + 0.5, IDLE),  # fresh, nothing to do
        (FRESH + 0.5, "live", 1, 0.5, IDLE),  # heartbeat late, not yet gone
        (GONE_AFTER, "live", 1, 0.5, IDLE),  # at the limit
        (GONE_AFTER + 0.1, "live", 1, 0.5, GONE),  # heartbeat stopped
        (0.1, "stopped", 0, 0.5, GONE),  # left cleanly
    ],
)
def test_sender_status_from_heartbeat_and_last_result(
    beat_age: float, status: str, inflight: int, result_age: float, expected: str
) -> None:
    sender = info("gw", status=status, heartbeat=NOW - beat_age, inflight=inflight)
    assert sender_status(sender, NOW - result_age, NOW) == expected


def test_a_sender_seen_only_in_results_is_gone() -> None:
    assert sender_status(None, NOW, NOW) == GONE
    snap = sample_snapshot(senders={})
    assert {row.name: row.status for row in fleet(snap)} == {"gw-a": GONE, "gw-b": GONE}


def test_status_changes_as_the_clock_moves() -> None:
    sender = info("gw", heartbeat=NOW, inflight=1)
    assert [sender_status(sender, NOW, NOW + dt) for dt in (0, 4, 6)] == [LIVE, IDLE, GONE]


def test_heartbeat_json_is_parsed_and_garbage_is_survived() -> None:
    raw = json.dumps(
        {
            "mean_time": 0.05,
            "failure_rate": 0.5,
            "shape": 10,
            "concurrency": 3,
            "max_attempts": None,
            "status": "live",
            "heartbeat": NOW,
            "inflight": 2,
            "sent": 17,
        }
    )
    parsed = Heartbeat.parse("gw", raw)
    assert parsed == Heartbeat("gw", 0.05, 0.5, 3, "live", NOW, 10.0, 2, 17)
    assert Heartbeat.parse("gw", "{not json") == Heartbeat("gw")


# -- rates, ETA and prediction -----------------------------------------------------------


def test_predicted_rate_now_sums_the_senders_that_are_up() -> None:
    rep = sample_snapshot().report
    assert rep.predicted_now is not None and math.isclose(rep.predicted_now, 13.0)
    # over the whole window gw-c (gone since NOW - 0.5) counts for the time it was up
    assert math.isclose(rep.predicted_rate, 13.0 + 5 * 19.5 / 20)


def test_a_zero_delay_sender_makes_the_prediction_unbounded() -> None:
    snap = sample_snapshot(senders={"gw-a": info("gw-a", mean_time=0.0)})
    assert snap.report.predicted_now == math.inf
    assert "pred_rate=unbounded" in plain_line(snap)
    assert "pred_now=unbounded" in plain_line(snap)


def test_eta_uses_the_recent_rate_and_the_predicted_finish_the_profiles() -> None:
    r = sample_snapshot().report
    assert r.remaining == 90  # 100 - 9 sent - 1 abandoned
    assert math.isclose(r.rate, 0.6)
    assert r.eta is not None and math.isclose(r.eta, 150.0)
    assert r.predicted_eta is not None and math.isclose(r.predicted_eta, 90 / 13)


def test_no_rate_yet_means_no_eta() -> None:
    snap = sample_snapshot(now=NOW + 100, created=0.0)  # nothing delivered lately
    r = snap.report
    assert r.rate == 0.0 and r.eta is None
    assert "eta=-" in plain_line(snap)


def test_current_rate_covers_the_last_ten_seconds() -> None:
    stats = Stats()
    stamps = [NOW - 30 + i / 10 for i in range(200)]  # 10 msg/s for 20 s, then 1 msg/s
    stamps += [NOW - 10 + 0.5 + i for i in range(10)]
    for ts in stamps:
        stats.count("gw-a", 0.1, ts, True, False, 0.5)
    snap = sample_snapshot(stats=stats, created=NOW - 30)
    assert math.isclose(snap.report.rate, 1.0)


# -- the JSON summary --------------------------------------------------------------------


DESIGN_FIELDS = [
    "run",
    "total",
    "sent",
    "failed_attempts",
    "attempts",
    "duplicates_suppressed",
    "abandoned",
    "dead_letters",
    "avg_attempt_time",
    "avg_time_per_message",
    "elapsed",
    "throughput",
    "latency",
    "senders",
]
DESIGN_SENDER_FIELDS = [
    "name",
    "mean_time",
    "failure_rate",
    "sent",
    "failed_attempts",
    "attempts",
    "avg_attempt_time",
]


def test_json_summary_field_by_field() -> None:
    snap = sample_snapshot(state=RunState(13, 13, True, 9, 4, dead_letters=4))
    data = json.loads(json.dumps(summary(snap)))
    assert set(DESIGN_FIELDS) <= set(data)
    assert data["run"] == "blast-1"
    assert data["total"] == 13
    assert data["sent"] == 9
    assert data["failed_attempts"] == 4
    assert data["attempts"] == 14  # 10 (gw-a) + 3 + 1 duplicate (gw-b)
    assert data["duplicates_suppressed"] == 1
    assert data["abandoned"] == 4
    assert data["dead_letters"] == 4
    assert math.isclose(data["avg_attempt_time"], (10 * 0.1 + 4 * 0.2) / 14, rel_tol=1e-5)
    assert math.isclose(data["avg_time_per_message"], (10 * 0.1 + 4 * 0.2) / 9, rel_tol=1e-5)
    assert data["elapsed"] == 19.0  # complete: created to the last result
    assert math.isclose(data["throughput"], 9 / 19, rel_tol=1e-3)
    assert set(data["latency"]) == {"p50", "p95", "p99"}
    # six latencies of 0.5 s, three of 1.0 s; the histogram is within 1 %
    assert data["latency"]["p50"] == pytest.approx(0.5, rel=0.0101)
    assert data["latency"]["p99"] == pytest.approx(1.0, rel=0.0101)
    assert [s["name"] for s in data["senders"]] == ["gw-a", "gw-b", "gw-c"]
    gw_a = data["senders"][0]
    assert {key: gw_a[key] for key in DESIGN_SENDER_FIELDS} == {
        "name": "gw-a",
        "mean_time": 0.1,
        "failure_rate": 0.5,
        "sent": 6,
        "failed_attempts": 4,
        "attempts": 10,
        "avg_attempt_time": pytest.approx(0.1, rel=1e-5),
    }
    assert (gw_a["status"], gw_a["concurrency"], gw_a["error"]) == ("done", 1, "")
    assert gw_a["failure_ratio"] == pytest.approx(0.4)
    assert gw_a["share"] == pytest.approx(6 / 9, rel=1e-5)
    assert gw_a["attempt_time"]["p50"] == pytest.approx(0.1, rel=0.0101)
    assert data["senders"][2]["attempts"] == 0
    assert data["senders"][2]["failure_ratio"] is None
    # added fields: the state, the failure ratio as a fraction, the predicted rate over
    # the run, the delivery time from the run's start and the attempt time
    assert data["state"] == "complete"
    assert data["failure_ratio"] == pytest.approx(4 / 14, rel=1e-5)
    assert data["predicted_rate"] == pytest.approx(5 + 8 + 5, rel=0.01)
    assert set(data["delivery_time"]) == set(data["attempt_time"]) == {"p50", "p95", "p99"}


def test_json_is_the_only_thing_on_stdout(tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "num_messages: 20\nreport_period: 0.2\n"
        "senders:\n  - { mean_time: 0.001, failure_rate: 0.3 }\n"
        "  - { mean_time: 0.002, failure_rate: 0.1 }\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "launcher", "run", str(config), "--json", "--run", "json-only"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["sent"] == 20
    assert ESC not in done.stderr  # stderr is a pipe here: plain lines
    assert any(line.startswith("run=json-only ") for line in done.stderr.splitlines())


def _raw_entries() -> list[tuple[str, list[str]]]:
    """Results as senders write them: every kind (ok, failed, duplicate), three senders."""
    entries = []
    for i in range(300):
        sender, kind = f"gw-{'abc'[i % 3]}", i % 5
        fields = ["seq", str(i), "sender", sender, "attempt", "1", "ok", "0" if kind == 0 else "1"]
        fields += ["duration", f"{0.01 * (i % 7):.6f}", "ts", f"{NOW - 300 + i:.6f}"]
        if kind == 1:
            fields += ["dup", "1"]
        elif kind > 1:
            fields += ["latency", f"{0.1 + i / 100:.6f}"]
        entries.append((f"{i}-0", fields))
    return entries


def _summary(stats: Stats) -> dict[str, object]:
    return {
        "sent": stats.sent,
        "failed": stats.failed,
        "dup": stats.duplicates,
        "attempts": stats.attempts,
        "avg": round(stats.avg_attempt_time, 9),
        "p50": stats.latency.quantile(0.5),
        "p99": stats.latency.quantile(0.99),
        "last_ts": stats.last_ts,
        "per_sender": {
            name: (s.sent, s.failed, s.duplicates, s.last_ts) for name, s in stats.senders.items()
        },
    }


def test_undecoded_entries_count_as_decoded_ones() -> None:
    entries = _raw_entries()
    undecoded = [(eid.encode(), [x.encode() for x in fields]) for eid, fields in entries]
    decoded, raw = Stats(), Stats()
    decoded.apply_entries(entries)
    raw.apply_entries(undecoded)
    assert _summary(raw) == _summary(decoded)
    assert set(raw.senders) == {"gw-a", "gw-b", "gw-c"}  # names come out as text
    reordered = Stats()  # fields reversed pairwise: the field-by-field path decodes too
    for eid, flat in undecoded:
        pairs = list(zip(flat[::2], flat[1::2], strict=True))[::-1]
        reordered.apply_entries([(eid, [x for pair in pairs for x in pair])])
    assert _summary(reordered) == _summary(raw)


def test_raw_entries_in_any_field_order_count_the_same() -> None:
    entries = _raw_entries()
    fast = Stats()
    fast.apply_entries(entries)
    reordered = Stats()  # fields reversed pairwise, and as dicts: the field-by-field path
    for i, (eid, flat) in enumerate(entries):
        pairs = list(zip(flat[::2], flat[1::2], strict=True))[::-1]
        fields = dict(pairs) if i % 2 else [x for pair in pairs for x in pair]
        reordered.apply_entries([(eid, fields)])
    assert _summary(fast) == _summary(reordered)
    assert (fast.sent, fast.failed, fast.duplicates) == (180, 60, 60)
    assert fast.last_ts == NOW - 1


@pytest.mark.parametrize(
    "junk",
    [
        ["duration", "nan"],
        ["duration", "inf"],
        ["duration", "-1"],
        ["ts", "abc"],
        ["latency", "-inf"],
        ["sender", b"\xff\xfe".decode("latin-1")],
    ],
)
def test_entries_no_sender_wrote_are_ignored_not_fatal(junk: list[str]) -> None:
    entries = _raw_entries()
    eid, fields = entries[12]  # a success with a latency: every field present
    bad = list(fields)
    at = bad.index(junk[0]) if junk[0] in bad else len(bad)
    bad[at : at + 2] = junk
    clean, mixed = Stats(), Stats()
    clean.apply_entries(entries[:12] + entries[13:])
    mixed.apply_entries([*entries[:12], (eid, bad), *entries[13:]])
    expected_ignored = 0 if junk[0] == "sender" else 1
    assert mixed.ignored == expected_ignored
    if expected_ignored:
        assert _summary(mixed) == _summary(clean)
    else:  # an odd but valid name is counted, under its own name
        assert mixed.sent == clean.sent + 1


# -- one report per snapshot, one table of labels ------------------------------------------


def test_every_view_formats_one_report_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Snapshot] = []
    real = report_module.build

    def build(snap: Snapshot) -> report_module.Report:
        built.append(snap)
        return real(snap)

    monkeypatch.setattr(report_module, "build", build)
    snap = sample_snapshot()
    plain_line(snap)
    final_text(snap)
    recorded(render(snap))
    recorded(summary_table(snap))
    report_html(snap)
    summary(snap)
    assert built == [snap]


@pytest.mark.parametrize(
    "figure",
    [
        "sent",
        "failed",
        "attempts",
        "avg_attempt_time",
        "avg_time_per_message",
        "failure_ratio",
        "overall_rate",
        "predicted_rate",
        "delivery_time",
        "queue_wait",
        "attempt_time",
        "duplicates",
        "abandoned",
        "dead_letters",
    ],
)
def test_the_final_views_name_each_figure_alike(figure: str) -> None:
    snap = sample_snapshot()
    label = LABELS[figure].text
    assert label in final_text(snap)
    assert label in recorded(summary_table(snap), width=160)
    assert escape(label) in report_html(snap)


def test_no_view_uses_a_drifted_label() -> None:
    snap = sample_snapshot()
    shown = final_text(snap) + recorded(summary_table(snap), width=160) + report_html(snap)
    assert "w/ retries" not in shown
    assert "throughput (overall)" not in shown
