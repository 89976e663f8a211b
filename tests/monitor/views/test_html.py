"""The HTML report: self-contained, a summary table, throughput over time, and one
attempt-time chart per sender against its configured gamma curve."""

from __future__ import annotations

import asyncio
import io
import json
import math
import random
import re
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from common import keys as k
from common.histogram import LogHistogram
from common.keys import RunKeys
from common.settings import MonitorSettings
from monitor.monitor import Monitor
from monitor.tally.stats import Stats
from monitor.views.distribution import density_bins, gamma_curve, gamma_pdf, x_range
from monitor.views.html import report_html, write_report
from monitor.views.plain import PlainView
from tests.monitor.support import NOW, info, sample_report


def test_report_holds_the_summary_and_one_chart_per_sender() -> None:
    page = report_html(sample_report())
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('<svg class="dist"') == 2  # gw-a, gw-b
    assert '<b>gw-c</b></figcaption><p class="note">No chart: no attempt recorded.' in page
    assert page.count('<svg class="timeline"') == 1
    for label in (
        "sent (messages delivered)",
        "9 / 100",
        "failed attempts",
        "avg time/attempt",
        "avg time/message (incl. retries)",
        "delivery time (from the run&#x27;s start)",
        "queue wait + send (enqueue to delivered)",
        "attempt time",
        "duplicates suppressed",
        "dead letters",
        "redis://ops:***@redis.internal:6379/0",
    ):
        assert label in page, label
    for name in ("gw-a", "gw-b", "gw-c"):
        assert f"<b>{name}</b>" in page  # each chart's caption


def test_report_is_self_contained() -> None:
    page = report_html(sample_report())
    assert "<script" not in page
    assert "<link" not in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)


def test_sender_names_are_escaped() -> None:
    snap = sample_report(senders={"<b>gw</b>": info("<b>gw</b>")})
    page = report_html(snap)
    assert "<b>gw</b>" not in page
    assert "&lt;b&gt;gw&lt;/b&gt;" in page


def test_write_report_writes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run.html"
    write_report(sample_report(), path)
    assert path.read_text(encoding="utf-8").count('<svg class="dist"') == 2


def test_write_report_makes_no_folder(tmp_path: Path) -> None:
    """A missing folder is refused when the settings are read, before the run; the
    report itself never creates one (as root, a typo would make folders under /)."""
    with pytest.raises(FileNotFoundError):
        write_report(sample_report(), tmp_path / "reports" / "run.html")
    assert not (tmp_path / "reports").exists()


def test_throughput_comes_from_the_results_timestamps() -> None:
    stats = Stats()
    for i in range(40):  # 10 msg/s from 100.0 to 104.0, then nothing
        stats.count("gw-a", 0.01, 100.0 + i / 10, True, False, 0.5)
    snap = sample_report(stats=stats, created=100.0, now=108.0)
    points = snap.throughput
    assert points[0][0] >= 0 and points[-1][0] <= 8.0
    busy = [rate for x, rate in points if 0.5 < x < 3.5]
    # steps of whole buckets hold 8 or 9 of the deliveries 0.1 s apart
    assert busy and all(math.isclose(rate, 10.0, rel_tol=0.12) for rate in busy)
    assert all(rate == 0 for x, rate in points if x > 4.5)


def test_gamma_pdf_is_a_density_with_the_configured_mean() -> None:
    mean, shape = 0.05, 10.0
    step = 0.0001
    xs = [i * step for i in range(1, 3000)]
    area = sum(gamma_pdf(x, mean, shape) for x in xs) * step
    first_moment = sum(x * gamma_pdf(x, mean, shape) for x in xs) * step
    assert math.isclose(area, 1.0, rel_tol=1e-3)
    assert math.isclose(first_moment, mean, rel_tol=1e-3)
    # shape 1 is the exponential distribution
    assert math.isclose(gamma_pdf(0.3, 0.2, 1.0), math.exp(-1.5) / 0.2)
    assert gamma_pdf(0.0, 0.05, 10.0) == 0.0


def test_observed_bins_follow_the_gamma_curve() -> None:
    rng = random.Random(5)
    mean, shape = 0.1, 10.0
    hist = LogHistogram()
    for _ in range(20_000):
        hist.add(rng.gammavariate(shape, mean / shape))
    x_max = x_range(hist, mean, shape)
    bins = density_bins(hist, x_max)
    area = sum((hi - lo) * d for lo, hi, d in bins)
    assert 0.99 <= area <= 1.0
    peak = max(bins, key=lambda b: b[2])
    mode = (shape - 1) * mean / shape
    assert peak[0] - 0.01 <= mode <= peak[1] + 0.01
    curve = gamma_curve(mean, shape, x_max)
    assert curve[0] == (0.0, 0.0) and math.isclose(curve[-1][0], x_max)


async def test_monitor_writes_the_report_at_the_end(
    fake: Redis, keys: RunKeys, tmp_path: Path
) -> None:
    await fake.hset(
        keys.meta,
        mapping={k.META_TOTAL: 4, k.META_PRODUCED: 4, k.META_DONE: 1, k.META_CREATED: NOW},
    )
    for seq, sender in enumerate(("gw-1", "gw-2", "gw-1", "gw-2")):
        fields: dict[Any, Any] = {"seq": seq, "sender": sender, "attempt": 1, "ok": 1}
        fields |= {"duration": 0.05, "ts": NOW + 1, "latency": 1.0}
        await fake.xadd(keys.results, fields)
    for sender in ("gw-1", "gw-2"):
        beat: dict[str, Any] = {
            "mean_time": 0.05,
            "failure_rate": 0.0,
            "shape": 10,
            "concurrency": 1,
        }
        beat |= {"status": "stopped", "heartbeat": NOW + 1, "inflight": 0, "sent": 2}
        await fake.hset(keys.senders, sender, json.dumps(beat))
    path = tmp_path / "report.html"
    settings = MonitorSettings(run=keys.run, report_period=0.05, report=path)
    snap = await asyncio.wait_for(
        Monitor(fake, settings, PlainView(io.StringIO())).watch(asyncio.Event()), 5
    )
    assert snap is not None and snap.sent == 4
    page = path.read_text(encoding="utf-8")
    assert page.count('<svg class="dist"') == 2
    assert "<b>gw-1</b>" in page and "<b>gw-2</b>" in page
