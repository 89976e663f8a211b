"""The HTML report's charts (issue 25): as wide as the page, y axes fitted to the data, the
prediction drawn over the fleet, scheduled outages shaded and random ones showing as
gaps, delivery time over time, 40 senders grouped by profile, one x scale across the
attempt-time charts, enough throughput steps for a short compressed run; and
``--report`` refusing a folder that does not exist, as ``--csv`` does."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from common.run import RunState
from launcher.cli import main as sim_app
from monitor.cli import main as monitor_app
from monitor.figures.report import Report, build
from monitor.figures.snapshot import Snapshot
from monitor.tally.series import CROWD, Series
from monitor.tally.stats import Stats
from monitor.views.html import CSS, FLEET_COLOR, PREDICTED_COLOR, TIPS, report_html
from monitor.views.svg import NONE_COLOR, WIDE, Line, time_chart
from tests.commands import Runner
from tests.monitor.support import NOW, info

SCALE = 20.0
CREATED = NOW - 6.0  # 6 real seconds ago: 120 simulated seconds at x20
PROFILES: dict[
    str, tuple[int, dict[str, Any]]
] = {  # (senders, profile): the national example's three sites, shorter
    "primary": (20, {"mean_time": 1.5, "failure_rate": 0.02, "concurrency": 20, "max_rate": 12}),
    "secondary": (
        15,
        {"mean_time": 2.5, "failure_rate": 0.1, "concurrency": 30, "mtbf": 1800, "mttr": 120},
    ),
    "overflow": (
        5,
        {
            "mean_time": 3.0,
            "failure_rate": 0.2,
            "concurrency": 40,
            "timeout": 30,
            "outages": [{"at": 40, "for": 20}],
        },
    ),
}
GAP = "gateway-secondary-site-03"  # delivers nothing from 50 to 80 simulated seconds


def fleet_snapshot() -> Snapshot:
    """40 senders of three profiles for 100 simulated seconds (5 real): each delivers
    every 0.1 real s, waited for since the run's start; the overflow site is down from
    40 to 60 simulated seconds (its attempts then time out after 30 s), and GAP stops
    delivering for a while (a random outage)."""
    rng = random.Random(25)
    stats, beats = Stats(), {}
    for site, (count, profile) in PROFILES.items():
        for i in range(1, count + 1):
            name = f"gateway-{site}-site-{i:02d}"
            beats[name] = info(
                name,
                mean_time=profile["mean_time"],
                failure_rate=profile["failure_rate"],
                concurrency=profile["concurrency"],
                status="stopped",
                started=CREATED,
                profile=profile,
            )
            for step in range(50):
                t = 0.05 + step / 10 + i / 1000  # real seconds since the start
                down = site == "overflow" and 40 <= t * SCALE < 60
                if down or (name == GAP and 50 <= t * SCALE < 80):
                    if down:
                        stats.count(name, 30.0, CREATED + t, False, False, None)
                    continue
                duration = rng.gammavariate(10, float(profile["mean_time"]) / 10)
                stats.count(name, duration, CREATED + t, True, False, t)
    state = RunState(stats.sent, stats.sent, True, stats.sent, 0, time_scale=SCALE, created=CREATED)
    return Snapshot("national", state, stats, beats, CREATED, CREATED + 5.2)


def fleet_report() -> Report:
    return build(fleet_snapshot(), final=True)


def chart(page: str, css_class: str) -> str:
    return page.split(f'<svg class="{css_class}"', 1)[1].split("</svg>", 1)[0]


def polylines(svg: str) -> list[str]:
    return re.findall(r"<polyline [^>]*>", svg)


def points_of(polyline: str) -> list[tuple[float, float]]:
    found = re.search(r'points="([^"]*)"', polyline)
    assert found
    return [(float(x), float(y)) for x, y in (p.split(",") for p in found.group(1).split())]


# -- as wide as the page ------------------------------------------------------------------


def test_charts_scale_to_the_page_width() -> None:
    page = report_html(fleet_report())
    svgs = re.findall(r"<svg [^>]*>", page)
    assert len(svgs) >= 44  # four charts over time and 40 attempt-time charts
    for tag in svgs:
        assert "viewBox=" in tag and " width=" not in tag and " height=" not in tag
    assert "svg { display: block; width: 100%; height: auto; }" in CSS
    assert 'class="scroll"' in page  # a wide sender table scrolls, the page does not


# -- a y axis that fits the data -----------------------------------------------------------


@pytest.mark.parametrize("top", [2100.0, 310_000.0, 0.27])
def test_the_y_axis_ends_just_above_the_data(top: float) -> None:
    """The line's highest point sits at the top of the plotting area (the axis ends a
    twentieth above it), not under a round number far above it (310,000 once had an
    axis to 400,000)."""
    line = [(0.0, 0.0), (50.0, top / 2), (100.0, top)]
    svg = time_chart("c", "t", "x", "y", x_max=100.0, lines=[Line(line, FLEET_COLOR)])
    highest = min(y for _, y in points_of(polylines(svg)[0]))
    plot = WIDE.height - WIDE.top - WIDE.bottom
    assert WIDE.top < highest <= WIDE.top + 0.06 * plot
    ticks = [float(t.replace(",", "")) for t in re.findall(r'text-anchor="end">([\d.,]+)<', svg)]
    assert max(ticks) <= top * 1.05 and max(ticks) >= top / 2


def test_the_x_axis_ends_at_the_run() -> None:
    rep = fleet_report()
    timeline = chart(report_html(rep), "timeline")
    ends = [x for x, _ in points_of(polylines(timeline)[0])]
    assert max(ends) == pytest.approx(WIDE.width - WIDE.right, abs=12)  # the last step


# -- the prediction drawn visibly ---------------------------------------------------------


def test_the_prediction_is_drawn_over_the_fleet_line() -> None:
    page = report_html(fleet_report())
    for css_class in ("delivered", "timeline"):
        lines = polylines(chart(page, css_class))
        fleet = next(i for i, line in enumerate(lines) if f'stroke="{FLEET_COLOR}"' in line)
        predicted = next(i for i, line in enumerate(lines) if f'stroke="{PREDICTED_COLOR}"' in line)
        assert predicted > fleet, css_class  # drawn later: on top
        assert "stroke-dasharray" in lines[predicted]
        assert 'stroke-opacity="0.5"' in lines[fleet] or 'stroke-opacity="0.7"' in lines[fleet]


# -- outages -------------------------------------------------------------------------------


def test_scheduled_outages_are_shaded_on_every_chart_over_time() -> None:
    page = report_html(fleet_report())
    said = (
        "scheduled outage 40-60 s: 5 senders (gateway-overflow-site-01 … gateway-overflow-site-05)"
    )
    for css_class in ("delivered", "timeline", "waits"):
        assert said in chart(page, css_class), css_class
    per_sender = chart(page, "per-sender")
    assert per_sender.count('fill="url(#hatch)"') == 5  # one window on each overflow row


def test_a_random_outage_shows_as_a_gap_in_its_senders_row() -> None:
    page = report_html(fleet_report())
    per_sender = chart(page, "per-sender")
    rows = dict(re.findall(r">(gateway-[\w-]+)<title>[^<]*</title></text>(<g .*?</g>)", per_sender))
    assert len(rows) == 40
    gaps = [name for name, cells in rows.items() if "nothing delivered" in cells]
    assert GAP in gaps and not any(name.startswith("gateway-primary") for name in gaps)
    assert re.search(rf'<line [^>]*stroke="{NONE_COLOR}"><title>5\d-[78]\d s: nothing', rows[GAP])


# -- delivery time over time ---------------------------------------------------------------


def test_delivery_time_is_charted_over_time() -> None:
    """Each message waited since the run's start: the wait of those delivered at t is t."""
    rep = fleet_report()
    assert len(rep.waits) >= 10
    for x, mean, most in rep.waits:
        assert mean == pytest.approx(x, abs=8.0)  # within a step (simulated seconds)
        assert mean <= most
    waits = chart(report_html(rep), "waits")
    assert len(polylines(waits)) == 2  # the mean and the largest
    assert re.search(r"<title>at [\dhms]+ \(simulated\): mean [\d.]+ s, largest [\d.]+ s", waits)


def test_an_old_checkpoint_without_wait_times_gets_a_note() -> None:
    snap = fleet_snapshot()
    old = snap.stats.to_dict()
    del old["series"]["l"]
    stats = Stats.from_dict(json.loads(json.dumps(old)))
    assert stats.series.total == snap.stats.series.total and not stats.series.waits
    rep = build(Snapshot("national", snap.state, stats, snap.senders, CREATED, snap.now))
    page = report_html(rep)
    assert '<svg class="waits"' not in page
    assert "No chart: the monitor kept no wait times." in page


def test_wait_times_survive_coarsening_merging_and_the_checkpoint() -> None:
    series, other = Series(limit=4), Series()
    stamps = [100.0 + i * 0.3 for i in range(40)]
    series.add_many(stamps)
    series.add_waits(stamps, [float(i) for i in range(40)])
    assert series.width > 1 / 64  # coarsened to hold 4 buckets
    assert sum(n for n, _, _ in series.waits.values()) == 40
    assert sum(s for _, s, _ in series.waits.values()) == pytest.approx(sum(range(40)))
    assert max(m for _, _, m in series.waits.values()) == 39.0
    loaded = Series.from_dict(json.loads(json.dumps(series.to_dict())))
    assert loaded.waits == series.waits
    other.add_many([200.0])
    other.add_waits([200.0], [7.0])
    loaded.merge(other)
    assert sum(n for n, _, _ in loaded.waits.values()) == 41
    steps = loaded.wait_steps(100.0, 201.0)
    assert steps[-1][1:] == (7.0, 7.0) and steps[0][1] < steps[0][2]


# -- forty senders ------------------------------------------------------------------------


def test_forty_senders_are_grouped_by_profile() -> None:
    page = report_html(fleet_report())
    headings = re.findall(r'<tr class="group"><th colspan="\d+">([^<]*)</th></tr>', page)
    assert [h.split(":")[0] for h in headings] == [  # in the senders' name order
        "5 senders (gateway-overflow-site-01 … gateway-overflow-site-05)",
        "20 senders (gateway-primary-site-01 … gateway-primary-site-20)",
        "15 senders (gateway-secondary-site-01 … gateway-secondary-site-15)",
    ]
    assert "mean 3.000 s, fail 20.0%, 40 slots, outage 40-60 s, timeout 30 s" in headings[0]
    assert "mean 1.500 s, fail 2.0%, 20 slots, max 12/s" in headings[1]
    assert "random outages (up 1800 s, down 120 s, on average)" in headings[2]
    assert page.count("<tr><td>gateway-") == 40
    assert "td { white-space: nowrap; }" in CSS  # names are never wrapped
    # the deliveries chart: a line per profile (not 40), the fleet and the prediction
    delivered = page.split('<svg class="delivered"')[1].split("<h2>")[0]
    assert len(polylines(delivered)) == 3 + 2
    assert "20 senders (gateway-primary-site-01 … gateway-primary-site-20)" in delivered


def test_the_attempt_time_charts_share_one_x_scale() -> None:
    page = report_html(fleet_report())
    charts = page.split('<svg class="dist"')[1:]
    assert len(charts) == 40
    axes = {tuple(re.findall(r'text-anchor="middle">([\d.,]+)</text>', c)) for c in charts}
    assert len(axes) == 1 and len(next(iter(axes))) >= 2  # the same ticks at the same places
    places = {tuple(re.findall(r'<text x="([\d.]+)" y="152.0"', c)) for c in charts}
    assert len(places) == 1
    assert page.count('<polyline id="curve-') == 3  # one gamma curve per profile, drawn once
    assert page.count('<use href="#curve-') == 40


def test_attempts_past_the_shared_axis_are_counted_not_squeezed_in() -> None:
    """The outage's 30 s timeouts would stretch every chart's axis to 30 s: the axis
    fits the gamma curves, and the captions say how many attempts lie beyond it."""
    page = report_html(fleet_report())
    ticks = re.findall(r'text-anchor="middle">([\d.,]+)</text>', chart(page, "dist"))
    assert max(float(t) for t in ticks) < 10
    beyond = re.findall(
        r"<b>(gateway-[a-z]+)[^<]*</b>[^<]*beyond the axis \(up to 30\.\d+ s\)", page
    )
    assert beyond == ["gateway-overflow"] * 5


# -- enough throughput steps --------------------------------------------------------------


def test_a_short_compressed_run_charts_throughput_in_many_steps() -> None:
    """1000 messages in 1.7 real seconds at x20 (the default fleet compressed): dozens of
    steps, not four."""
    stats, created = Stats(), NOW - 10
    for i in range(1000):
        stats.count("gw-a", 0.1, created + 0.0017 * i, True, False, 0.0017 * i)
    state = RunState(1000, 1000, True, 1000, 0, time_scale=SCALE, created=created)
    snap = Snapshot("short", state, stats, {"gw-a": info("gw-a")}, created, NOW)
    points = build(snap).throughput
    assert 20 <= len(points) <= 1.2 * 1000 / CROWD
    inner = [rate for x, rate in points[1:-1]]
    assert all(rate == pytest.approx(1000 / 1.7 / SCALE, rel=0.2) for rate in inner)


def test_few_deliveries_are_not_cut_into_noise() -> None:
    series = Series()
    series.add_many([100.0 + i for i in range(100)])  # one a second for 100 s
    assert 8 <= len(series.rates(100.0, 200.0)) <= 12


# -- hover ----------------------------------------------------------------------------------


def test_hovering_shows_the_figures_at_that_moment() -> None:
    rep = fleet_report()
    page = report_html(rep)
    delivered = chart(page, "delivered")
    tips = re.findall(r"<title>(at [^<]*)</title>", delivered)
    assert len(tips) == TIPS and all(" delivered, predicted " in t for t in tips)
    timeline = chart(page, "timeline")
    assert len(re.findall(r"<title>at [^<]* msg/s", timeline)) == len(rep.throughput)
    assert "senders in a scheduled outage" in timeline


# -- a report path in a folder that does not exist ----------------------------------------


@pytest.mark.parametrize("flag", ["--report", "--csv"])
def test_a_missing_folder_is_refused_before_the_run(
    runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    for name in ("REDIS_URL", "MONITOR_REPORT", "MONITOR_CSV", "SMS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    target = tmp_path / "missing" / "deeper" / "out.file"
    for app, args in [(sim_app, ["run"]), (monitor_app, ["--redis-url", "redis://h:1/0"])]:
        result = runner(app, [*args, flag, str(target)])
        assert result.exit_code == 2, result.output
        assert f"no folder {target.parent}" in result.error
        assert "Traceback" not in result.output
    assert not (tmp_path / "missing").exists()  # nothing created, not even the first level
