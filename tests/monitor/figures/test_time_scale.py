"""The monitor at real scale (issue 13): compressed time shown as simulated time with the
wall time beside it, the prediction with throughput caps, the account cap, outage
windows and undeliverable numbers, the predicted completion beside the simulated one,
senders in an outage, undeliverable messages counted apart, and the warning when a run
is compressed past what the machine simulates faithfully."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import time
from html import escape
from typing import Any

import pytest
from redis.asyncio import Redis

from common import keys as k
from common.heartbeat import Heartbeat
from common.keys import RunKeys
from common.results import Result
from common.run import RunState
from common.settings import MonitorSettings
from launcher.runs_text import show_text
from monitor.figures.prediction import Member, Yields, completion, segments
from monitor.figures.report import build
from monitor.figures.snapshot import Snapshot
from monitor.follow.stall import LagWatch, why_stalled
from monitor.monitor import Monitor
from monitor.tally.stats import Stats
from monitor.views.history import StoredRun
from monitor.views.html import report_html
from monitor.views.json_summary import summary
from monitor.views.live import render, summary_table
from monitor.views.plain import PlainView, final_text, plain_line
from tests.monitor.support import NOW, info, parse_plain, recorded
from tests.support import ROOT

# -- compressed time: simulated figures, wall time beside --------------------------------

SCALE = 20.0
CREATED = NOW - 60  # one real minute ago: 20 simulated minutes at scale 20


def compressed(scale: float = SCALE) -> Snapshot:
    """10 deliveries per real second for 60 real seconds (0.5 per simulated second at
    scale 20), each 0.5 real seconds after its enqueue; attempts of 2 simulated seconds."""
    stats = Stats()
    for i in range(600):
        stats.count("gw-a", 2.0, CREATED + 0.05 + i / 10, True, False, 0.5)
    beat = info("gw-a", mean_time=2.0, failure_rate=0.0, attempt_rate=0.5, started=CREATED)
    state = RunState(1000, 1000, True, 600, 0, time_scale=scale, created=CREATED)
    return Snapshot("big", state, stats, {"gw-a": beat}, CREATED, NOW)


def test_a_compressed_run_shows_simulated_time_with_real_time_beside() -> None:
    snap = compressed()
    rep = build(snap)
    assert rep.elapsed == pytest.approx(1200) and rep.elapsed_real == pytest.approx(60)
    assert rep.rate == pytest.approx(0.5) and rep.overall_rate == pytest.approx(0.5)
    assert rep.predicted_rate == pytest.approx(0.5)  # the profile, per simulated second
    assert rep.eta == pytest.approx(800)  # 400 left at 0.5 a simulated second
    assert rep.queue_wait is not None and rep.attempt_time is not None
    assert rep.queue_wait.p50 == pytest.approx(10, rel=0.0101)  # 0.5 real s x 20
    assert rep.attempt_time.p50 == pytest.approx(2.0, rel=0.0101)  # simulated already
    assert rep.delivery_time is not None
    assert rep.delivery_time.p50 == pytest.approx(600, abs=3)  # 30 real s x 20

    fields = parse_plain(plain_line(build(snap)))
    assert (fields["times"], fields["time_scale"]) == ("simulated", "20")
    assert (fields["elapsed"], fields["elapsed_real"]) == ("1200.0s", "60.0s")
    assert (fields["rate"], fields["avg_rate"], fields["pred_rate"]) == ("0.5/s",) * 3
    assert (fields["eta"], fields["eta_real"]) == ("800.0s", "40.0s")
    assert float(fields["wait_p50"].rstrip("s")) == pytest.approx(10, rel=0.0101)

    text = final_text(build(snap))
    assert text.startswith("run 'big' stopped in 20m00s simulated (1m00s real, x20)")
    assert re.search(r"overall rate\s+0\.5 msg/s simulated \(10\.0/s real\)", text)
    assert re.search(r"avg time/attempt \(simulated\)\s+2\.0000 s", text)
    assert re.search(r"queue wait \+ send \(simulated, enqueue to delivered\)\s+10\.0", text)

    live = recorded(render(build(snap)), width=160)
    assert "elapsed 20m00s simulated (1m00s real, x20)" in live
    assert re.search(r"rate \(last 10 s real\)\s+0\.5 msg/s simulated \(10\.0/s real\)", live)
    assert re.search(r"ETA\s+13m20s simulated \(40\.0s real\)", live)
    assert re.search(r"simulated\s+p50\s+p95\s+p99", live)
    table = recorded(summary_table(build(snap)), width=160)
    assert re.search(r"elapsed\s+20m00s simulated \(1m00s real, x20\)", table)

    data = summary(build(snap))
    assert (data["time_scale"], data["elapsed"], data["elapsed_real"]) == (20.0, 1200.0, 60.0)
    assert data["throughput"] == pytest.approx(0.5)
    assert data["latency"]["p50"] == pytest.approx(10, rel=0.0101)

    page = report_html(build(snap))
    assert "20m00s simulated (1m00s real, x20)" in page
    assert "simulated seconds since the run&#x27;s start" in page
    assert escape("delivery time (simulated, from the run's start)") in page


def test_the_throughput_chart_runs_on_the_simulated_axis() -> None:
    rep = build(compressed())
    xs = [x for x, _ in rep.throughput]
    assert max(xs) == pytest.approx(1200, rel=0.03)  # 60 real seconds, 1200 simulated
    inner = [y for x, y in rep.throughput if 100 < x < 1100]
    assert inner and all(y == pytest.approx(0.5, rel=0.05) for y in inner)
    x_last, delivered = rep.delivered[-1]
    assert x_last == pytest.approx(1200, rel=0.01) and delivered == 600


def test_scale_one_reads_as_it_always_has() -> None:
    """The same snapshot as a run at scale 1 (60 s, 10 msg/s): no mention of simulated
    time anywhere, and the figures in real seconds."""
    snap = compressed(scale=1.0)
    fields = parse_plain(plain_line(build(snap)))
    assert "times" not in fields and "elapsed_real" not in fields and "eta_real" not in fields
    assert (fields["elapsed"], fields["rate"]) == ("60.0s", "10.0/s")
    every = "\n".join(
        [
            plain_line(build(snap)),
            final_text(build(snap)),
            recorded(render(build(snap)), width=160),
            recorded(summary_table(build(snap)), width=160),
            report_html(build(snap)),
            json.dumps(summary(build(snap))),
        ]
    )
    assert "simulated" not in every and " real" not in every


# The plain line and the final text of this snapshot, as the monitor printed them before
# issue 13 (a run at scale 1; the rate of the last 10 s then came from the monitor's own
# samples: 10 msg/s, as the deliveries' times say too). The delivery times are those of
# the time series' 1/64 s buckets (issue 25; 1/8 s before: 20.0000 / 38.0000 / 39.6250 s;
# the deliveries' own are 19.95 / 37.95 / 39.55 s).
BEFORE_PLAIN = (
    "run=golden elapsed=40.0s sent=400/1000 pct=40.0 rate=10.0/s avg_rate=10.0/s "
    "pred_rate=14.0/s pred_now=14.0/s eta=60.0s failed_attempts=134 attempts=534 "
    "fail_ratio=25.1% avg_attempt=0.1199s avg_per_msg=0.1601s delivery_p50=19.9531s "
    "delivery_p95=37.9531s delivery_p99=39.5625s wait_p50=0.8958s wait_p95=1.3909s "
    "wait_p99=1.3909s attempt_p50=0.1188s attempt_p95=0.1604s attempt_p99=0.1604s dups=0 "
    "abandoned=0 dead=0 live=2 idle=0 gone=0 done=0"
)
BEFORE_FINAL = """\
run 'golden' stopped in 40.0s
  sent (messages delivered)                     400 / 1000
  failed attempts                               134
  attempts                                      534
  failure ratio (failed / attempts)             25.1%
  avg time/attempt                              0.1199 s
  avg time/message (incl. retries)              0.1601 s
  overall rate                                  10.0 msg/s
  predicted overall rate (the fleet as it was)  14.0 msg/s
  duplicates suppressed                         0
  abandoned                                     0
  dead letters                                  0
  percentiles                                   p50 / p95 / p99
  delivery time (from the run's start)          19.9531 / 37.9531 / 39.5625 s
  queue wait + send (enqueue to delivered)      0.8958 / 1.3909 / 1.3909 s
  attempt time                                  0.1188 / 0.1604 / 0.1604 s
  gw-a: status=live slots=2 sent=320 share=80.0% failed_attempts=134 fail_ratio=29.5% \
(cfg 50.0%) avg_attempt=0.1181s (cfg 0.1000s) attempt_p50/p95/p99=0.1188/0.1604/0.1604s
  gw-b: status=live slots=1 sent=80 share=20.0% failed_attempts=0 fail_ratio=0.0% \
(cfg 20.0%) avg_attempt=0.1299s (cfg 0.2000s) attempt_p50/p95/p99=0.1287/0.1604/0.1604s"""


def golden() -> Snapshot:
    created = NOW - 40
    stats = Stats()
    for i in range(400):
        ts = created + 0.05 + i * 0.1
        if i % 3 == 0:
            stats.count("gw-a", 0.09, ts - 0.01, False, False, None)
        sender = "gw-a" if i % 5 else "gw-b"
        stats.count(sender, 0.1 + (i % 7) * 0.01, ts, True, False, 0.5 + (i % 10) * 0.1)
    beats = {
        "gw-a": Heartbeat("gw-a", 0.1, 0.5, 2, "live", NOW - 0.5, 10.0, 1, 0, None, created),
        "gw-b": Heartbeat("gw-b", 0.2, 0.2, 1, "live", NOW - 0.5, 10.0, 1, 0, None, created),
    }
    state = RunState(1000, 1000, True, 400, 0)
    return Snapshot("golden", state, stats, beats, created, NOW, "redis://x:6379/0")


def test_scale_one_output_is_unchanged_but_for_the_new_figures() -> None:
    """The plain line keeps every token, in its order, with figures added among them; the
    final text keeps every line (its label column as wide as the longest label), now in
    the catalogue's order (that of the plain line), and each sender line every figure, as
    key=value tokens (a configured one as ``cfg_...``)."""
    snap = golden()
    tokens = iter(plain_line(build(snap)).split(" "))
    assert all(old in tokens for old in BEFORE_PLAIN.split(" "))  # a subsequence: in order
    text = final_text(build(snap)).splitlines()
    before = BEFORE_FINAL.splitlines()
    assert text[0] == before[0]
    lines = {" ".join(t.split()) for t in before[1:] if not t.startswith("  gw-")}
    ladders = {line for line in lines if line.endswith(" s") and " / " in line}
    lines -= ladders | {"percentiles p50 / p95 / p99"}
    assert lines <= {" ".join(t.split()) for t in text}  # as they were
    # the percentiles: now a table of the whole ladder (issue 25), p50, p95, p99 as they were
    assert " ".join(_starting(text, "  percentiles (s)").split()) == (
        "percentiles (s) min p50 p66 p75 p90 p95 p99 p99.9 max"
    )
    for old in ladders:
        label, values = old.removesuffix(" s").rsplit(" ", 5)[0], old.split(" / ")
        values = [values[0].rsplit(" ", 1)[1], values[1], values[2].removesuffix(" s")]
        cells = _starting(text, "  " + label).removeprefix("  " + label).split()
        assert [cells[1], cells[5], cells[6]] == values, label
    for old, new in zip(before[-2:], text[-2:], strict=True):
        old_tokens = set(old.replace(" (cfg ", " cfg=").replace(")", "").split())
        for token in old_tokens - {t for t in old_tokens if t.startswith("cfg=")}:
            assert token in new.split(), token
    assert "cfg_fail=50.0% fail_ratio=29.5%" in text[-2]
    assert "cfg_mean=0.1000s avg_attempt=0.1181s" in text[-2]
    # 1000 messages at the 14 msg/s of the two profiles
    assert "predicted completion (from the profiles) 1m11s" in {" ".join(t.split()) for t in text}


def _starting(lines: list[str], head: str) -> str:
    return next(line for line in lines if line.startswith(head))


# -- the prediction: caps, outage windows, failures, undeliverable numbers ---------------

# A: 14 attempts/s, failure rate 0.5; B: 38 attempts/s, failure rate 0.2, down from 10 s to
# 30 s; a quarter of the numbers undeliverable (one attempt each); the account allows 39
# attempts/s. A message takes 0.25 + 0.75 x 2 = 1.75 attempts at A (8 settled/s, 6
# delivered), 0.25 + 0.75 x 1.25 = 1.1875 at B (32 settled/s, 24 delivered).
# [0, 10): 52 attempts/s capped to 39, x 0.75: 30 settled/s, 300 messages;
# [10, 30): A alone, 8/s, 160 more (460); from 30 s: 30/s, the last 300 in 10 s.
HAND_TOTAL = 760
HAND_COMPLETION = 40.0
PROFILE_A = {"attempt_rate": 14.0, "failure_rate": 0.5}
PROFILE_B = {"attempt_rate": 38.0, "failure_rate": 0.2}
WINDOW_B = {"outages": [{"at": 10, "for": 20}]}


def hand_snapshot(sim_now: float, scale: float = SCALE) -> Snapshot:
    created = NOW - sim_now / scale
    beats = {
        "gw-a": info("gw-a", **PROFILE_A, started=created, inflight=0),
        "gw-b": info("gw-b", **PROFILE_B, started=created, status="outage", profile=WINDOW_B),
    }
    state = RunState(
        HAND_TOTAL,
        HAND_TOTAL,
        True,
        0,
        0,
        time_scale=scale,
        invalid_fraction=0.25,
        account_rate=39.0,
        created=created,
    )
    return Snapshot("hand", state, Stats(), beats, created, NOW)


def test_predicted_completion_by_hand() -> None:
    snap = hand_snapshot(sim_now=20.0)
    rep = build(snap)
    assert rep.predicted_completion == pytest.approx(HAND_COMPLETION)
    assert summary(build(snap))["predicted_completion"] == pytest.approx(HAND_COMPLETION)
    # now (20 s): B is inside its window, A alone delivers 6/s
    assert rep.predicted_now == pytest.approx(6.0)
    # over the run so far: 30 x 0.75 = 22.5 delivered/s for 10 s, then 6/s for 10 s
    assert rep.predicted_rate == pytest.approx((22.5 * 10 + 6 * 10) / 20)
    # from now: 80 settled by 30 s, the other 680 at 30/s
    assert rep.predicted_finish == pytest.approx(10 + 680 / 30)
    assert {row.name: row.rate for row in rep.senders} == {
        "gw-a": pytest.approx(6.0),
        "gw-b": pytest.approx(24.0),
    }
    text = final_text(build(snap))
    assert re.search(r"predicted completion \(from the profiles\)\s+40\.0s simulated", text)
    page = report_html(build(snap))
    assert "predicted completion (from the profiles)</td><td>40.0s simulated" in page


def test_the_prediction_is_one_function_of_the_fleet_over_time() -> None:
    a = Yields(14.0, 1 / 1.75, 0.75 / 1.75)
    b = Yields(38.0, 1 / 1.1875, 0.75 / 1.1875)
    fleet = [Member(a, (0.0, float("inf"))), Member(b, (0.0, float("inf")), ((10.0, 30.0),))]
    segs = segments(fleet, account=39.0)
    assert completion(segs, HAND_TOTAL) == pytest.approx(HAND_COMPLETION)
    assert completion(segs, 300) == pytest.approx(10.0)
    assert completion(segs, 100, since=10.0) == pytest.approx(10 + 100 / 8)
    assert completion(segs, 200, since=10.0) == pytest.approx(30 + 40 / 30)
    # without the cap: 40 settled/s, then 8/s, then 40/s
    assert completion(segments(fleet), HAND_TOTAL) == pytest.approx(30 + (760 - 560) / 40)
    # a sender that left at 10 s counts for nothing after; nobody left: never
    gone = [Member(a, (0.0, 10.0))]
    assert completion(segments(gone), 100) is None


def test_the_completion_chart_sets_the_prediction_beside_the_deliveries() -> None:
    rep = build(hand_snapshot(sim_now=20.0))
    x_end, delivered = rep.expected[-1]
    assert x_end == pytest.approx(HAND_COMPLETION)
    assert delivered == pytest.approx(HAND_TOTAL * 0.75)  # every deliverable message


# -- lateness: the simulator's own delay, in the summary ----------------------------------


def late_snapshot(late: float, scale: float = SCALE) -> Snapshot:
    """gw-a (mean 2 s) and gw-b (mean 0.5 s): 100 attempts each, 1 in 50 of them ending
    ``late`` simulated seconds after it was due, the rest 1 ms."""
    stats = Stats()
    for sender in ("gw-a", "gw-b"):
        for i in range(100):
            ended = late if i % 50 == 0 else 0.001
            stats.apply(Result(i, sender, 1, True, 0.5, CREATED + i / 10, 0.5, late=ended))
    beats = {
        "gw-a": info("gw-a", mean_time=2.0, started=CREATED),
        "gw-b": info("gw-b", mean_time=0.5, started=CREATED),
    }
    state = RunState(200, 200, True, 200, 0, time_scale=scale, created=CREATED)
    return Snapshot("late", state, stats, beats, CREATED, NOW)


def test_lateness_is_reported_per_sender_and_for_the_fleet() -> None:
    rep = build(late_snapshot(late=0.4), final=True)
    assert rep.avg_lateness == pytest.approx(0.001 * 0.98 + 0.4 * 0.02)
    assert rep.lateness is not None and rep.lateness.p99 == pytest.approx(0.4, rel=0.02)
    assert rep.lateness.p50 == pytest.approx(0.001, rel=0.02)
    data = summary(rep)
    assert data["avg_lateness"] == pytest.approx(rep.avg_lateness)
    assert data["lateness"]["p99"] == pytest.approx(0.4, rel=0.02)
    assert [s["lateness"]["p99"] for s in data["senders"]] == pytest.approx([0.4, 0.4], rel=0.02)
    text = final_text(rep)
    assert re.search(r"avg lateness \(simulated, attempt ended after due\)\s+0\.0090 s", text)
    assert "lateness (simulated, attempt ended after due)" in text
    assert "gw-b: status=" in text and " avg_late=0.0090s late_p50/p95/p99=" in text


def test_a_run_its_lateness_distorted_says_so_in_its_summary() -> None:
    """1 % of the attempts ended 8 s simulated late, 0.4 s real at x20: past the quarter
    second after which a slot's schedule slips (what the lag warning says as it happens)."""
    rep = build(late_snapshot(late=8.0), final=True)
    assert rep.distorted
    said = (
        r"lateness distorted this run: 1 % of its attempts ended (39|40)\d\.\d ms "
        r"\([78]\.\d\d\d s simulated\) or more after they were due"
    )
    assert re.search(said, final_text(rep))
    assert "lower time_scale (x20)" in final_text(rep)
    assert re.search(said, " ".join(recorded(summary_table(rep), width=400).split()))
    assert re.search(f'<p class="warn">{said}', report_html(rep))
    assert summary(rep)["lateness_distorted"] is True
    stored = StoredRun("late", summary(rep), CREATED, NOW)
    assert "! lateness distorted this run: 1 % of its attempts ended 7." in show_text(stored)
    # 1 s simulated late, 50 ms real: absorbed by the schedules; not said
    fine = build(late_snapshot(late=1.0), final=True)
    assert not fine.distorted and summary(fine)["lateness_distorted"] is False
    assert "distorted" not in final_text(fine) + report_html(fine)
    assert "distorted" not in recorded(summary_table(fine), width=400)
    assert "distorted" not in show_text(StoredRun("late", summary(fine), CREATED, NOW))


# -- senders in an outage ---------------------------------------------------------------


def test_a_sender_in_an_outage_shows_as_such_everywhere() -> None:
    snap = hand_snapshot(sim_now=20.0)
    status = {row.name: row.status for row in build(snap).senders}
    assert status == {"gw-a": "idle", "gw-b": "outage"}
    assert parse_plain(plain_line(build(snap)))["outage"] == "1"
    assert "gw-b: status=outage " in final_text(build(snap))
    row = next(line for line in recorded(render(build(snap))).splitlines() if " gw-b " in line)
    assert " outage " in row
    assert re.search(r"gw-b\s+outage", recorded(summary_table(build(snap)), width=160))
    assert "<td>gw-b</td><td>outage</td>" in report_html(build(snap))
    assert summary(build(snap))["senders"][1]["status"] == "outage"


def test_a_stale_outage_heartbeat_is_idle_then_gone() -> None:
    beat = info("gw", status="outage", heartbeat=NOW - 4)
    snap = Snapshot("r", RunState(10, 10, True, 0, 0), Stats(), {"gw": beat}, NOW - 10, NOW)
    assert build(snap).senders[0].status == "idle"
    later = Snapshot("r", RunState(10, 10, True, 0, 0), Stats(), {"gw": beat}, NOW - 10, NOW + 2)
    assert build(later).senders[0].status == "gone"


# -- undeliverable messages, counted apart ------------------------------------------------


def settled_snapshot() -> Snapshot:
    """8 delivered; 2 to undeliverable numbers (one failed attempt each); 1 abandoned
    after 3 failed attempts: 8 + 2 + 1 = 11, the run's total."""
    stats = Stats()
    for seq in range(8):
        stats.count("gw-a", 0.1, NOW - 5 + seq * 0.1, True, False, 0.2)
    for _ in range(2 + 3):
        stats.count("gw-a", 0.1, NOW - 4, False, False, None)
    state = RunState(11, 11, True, 8, 1, dead_letters=0, undeliverable=2)
    return Snapshot("u", state, stats, {"gw-a": info("gw-a")}, NOW - 10, NOW)


def test_undeliverable_messages_are_counted_apart_in_every_view() -> None:
    snap = settled_snapshot()
    assert build(snap).complete and build(snap).remaining == 0
    fields = parse_plain(plain_line(build(snap)))
    assert (fields["sent"], fields["abandoned"], fields["undeliverable"]) == ("8/11", "1", "2")
    assert re.search(r"undeliverable \(permanent failures\)\s+2\n", final_text(build(snap)))
    assert re.search(r"undeliverable\s+2\b", recorded(render(build(snap))))
    assert re.search(
        r"undeliverable \(permanent failures\)\s+2", recorded(summary_table(build(snap)))
    )
    assert "<td>undeliverable (permanent failures)</td><td>2</td>" in report_html(build(snap))
    data = summary(build(snap))
    assert (data["sent"], data["abandoned"], data["undeliverable"]) == (8, 1, 2)
    assert data["sent"] + data["abandoned"] + data["undeliverable"] == data["total"]
    assert data["state"] == "complete"


def test_while_running_undeliverable_messages_are_not_left() -> None:
    snap = settled_snapshot()
    state = RunState(20, 20, True, 8, 1, undeliverable=2)
    running = Snapshot("u", state, snap.stats, snap.senders, snap.created, snap.now)
    assert build(running).remaining == 9  # 20 - 8 sent - 1 abandoned - 2 undeliverable
    assert "sent 8 / 20  40.0%  9 left" in recorded(render(build(running)))


async def test_the_monitor_ends_a_run_with_undeliverable_messages(
    fake: Redis, keys: RunKeys
) -> None:
    await fake.hset(
        keys.meta,
        mapping={
            k.META_TOTAL: 10,
            k.META_PRODUCED: 10,
            k.META_DONE: 1,
            k.META_DELIVERED: 8,
            k.META_UNDELIVERABLE: 2,
            k.META_CREATED: NOW,
        },
    )
    for seq in range(10):
        fields: dict[Any, Any] = {"seq": seq, "sender": "gw-1", "attempt": 1}
        fields |= {"ok": 1 if seq < 8 else 0, "duration": 0.05, "ts": NOW + 1}
        if seq < 8:
            fields["latency"] = 1.0
        await fake.xadd(keys.results, fields)
    out = io.StringIO()
    settings = MonitorSettings(run=keys.run, report_period=0.05)
    snap = await asyncio.wait_for(Monitor(fake, settings, PlainView(out)).watch(asyncio.Event()), 5)
    assert snap is not None and snap.complete
    data = summary(snap)
    assert (data["sent"], data["undeliverable"], data["failed_attempts"]) == (8, 2, 2)
    assert "undeliverable=2" in out.getvalue()


# -- compressed past what the machine simulates faithfully -------------------------------


def lagging(late: float, mean: float = 5.0) -> dict[str, Heartbeat]:
    return {
        "gw-slow": info("gw-slow", mean_time=mean, late=late),
        "gw-fine": info("gw-fine", mean_time=mean, late=late / 10),
    }


def test_a_run_compressed_too_far_is_said_once_per_sender(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = LagWatch()
    with caplog.at_level(logging.WARNING, logger="monitor.follow.stall"):
        # 0.3 s real late at x20: the slots' schedules are about to slip
        watch.check(lagging(0.3), scale=20)
        watch.check(lagging(0.3), scale=20)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1
    assert "gw-slow" in said[0] and "lower time_scale" in said[0]
    assert "compressed (time scale 20) past what this machine simulates faithfully" in said[0]
    # what the lateness is: how far behind, in real and simulated seconds
    assert "runs 300 ms behind its schedule (6 s simulated): its attempts end" in said[0]
    assert "after they were due" in said[0]


def test_lateness_within_the_mean_or_at_scale_one_is_no_distortion(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="monitor.follow.stall"):
        # 10 ms of real lateness at x20 (0.2 s simulated, 4 % of the mean): recorded
        # times run a little late, but the schedules hold (the run is as fast)
        LagWatch().check(lagging(0.010), scale=20)
        LagWatch().check(lagging(0.010), scale=1)  # not compressed; 10 ms is no lag
    assert caplog.records == []


async def test_the_monitor_warns_of_a_run_compressed_too_far(
    fake: Redis, keys: RunKeys, caplog: pytest.LogCaptureFixture
) -> None:
    await fake.hset(
        keys.meta,
        mapping={
            k.META_TOTAL: 1,
            k.META_PRODUCED: 1,
            k.META_DONE: 1,
            k.META_CREATED: NOW,
            k.META_TIME_SCALE: 50,
        },
    )
    beat = info("gw-1", mean_time=1.0, late=0.3, heartbeat=NOW)  # 0.3 s real: schedules slip
    await fake.hset(keys.senders, "gw-1", beat.to_json())
    settings = MonitorSettings(run=keys.run, report_period=0.05)
    monitor = Monitor(fake, settings, PlainView(io.StringIO()))
    with caplog.at_level(logging.WARNING, logger="monitor.follow.stall"):
        watching = asyncio.create_task(monitor.watch(asyncio.Event()))
        await asyncio.sleep(0.3)
        fields: dict[Any, Any] = {"seq": 0, "sender": "gw-1", "attempt": 1, "ok": 1}
        fields |= {"duration": 1.0, "ts": NOW + 1, "latency": 1.0}
        await fake.xadd(keys.results, fields)
        await fake.hset(keys.meta, k.META_DELIVERED, 1)
        assert await asyncio.wait_for(watching, 5) is not None
    said = [r.getMessage() for r in caplog.records if "lower time_scale" in r.getMessage()]
    assert len(said) == 1 and "gw-1" in said[0]


# -- the HTML report: delivered over simulated time, fleet and gateways ---------------------


def test_the_report_plots_deliveries_for_the_fleet_and_each_gateway() -> None:
    stats = Stats()
    for i in range(300):
        sender = "gw-a" if i % 3 else "gw-b"
        stats.count(sender, 2.0, CREATED + 0.1 + i / 5, True, False, 0.5)
    beats = {name: info(name, mean_time=2.0, started=CREATED) for name in ("gw-a", "gw-b")}
    state = RunState(300, 300, True, 300, 0, time_scale=SCALE, created=CREATED)
    snap = Snapshot("big", state, stats, beats, CREATED, NOW)
    rep = build(snap)
    assert rep.delivered[-1][1] == 300
    by = dict(rep.delivered_by)
    assert (by["gw-a"][-1][1], by["gw-b"][-1][1]) == (200, 100)
    assert max(x for x, _ in rep.delivered) <= rep.elapsed == pytest.approx(1198)  # last
    page = report_html(build(snap))
    chart = page.split('<svg class="delivered"')[1].split("</svg>")[0]
    assert chart.count("<polyline") == 4  # two gateways, the prediction, the fleet
    assert "messages delivered" in chart
    assert "simulated seconds since the run&#x27;s start" in chart
    assert "gw-a" in page.split('<svg class="delivered"')[1].split("<h2>")[0]


async def test_a_stall_while_every_gateway_is_down_says_so(fake: Redis) -> None:
    now = time.time()
    down = {"gw": info("gw", status="outage", heartbeat=now - 1)}
    assert "in an outage" in str(await why_stalled(fake, down))
    stale = {"gw": info("gw", status="outage", heartbeat=now - 60)}
    assert "no sender is working" in str(await why_stalled(fake, stale))


def test_the_readme_shows_the_plain_line_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # The example's output shows the plain line; the monitor's section refers to it.
    section = readme.split("<!-- section: example -->")[1].split("<!-- section: ")[0]
    example = next(line for line in section.splitlines() if line.startswith("run=default "))
    assert list(parse_plain(example)) == list(parse_plain(plain_line(build(golden()))))
