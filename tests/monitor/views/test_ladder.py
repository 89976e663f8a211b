"""The percentile ladder (issue 25): min, p50, p66, p75, p90, p95, p99, p99.9 and max in
the final summary, the JSON summary, the CSV, the HTML report and ``sms-sim show``; p50,
p95 and p99 on the live dashboard, the per-period lines, the senders' lines and tables
and ``/metrics``."""

from __future__ import annotations

import re

from launcher.runs_text import show_text
from monitor.figures.catalogue import FIGURES, Kind
from monitor.tally.quantiles import LABELS, NAMES, SHORT, Percentiles
from monitor.views.csvfile import HEADER
from monitor.views.history import StoredRun
from monitor.views.html import report_html
from monitor.views.json_summary import summary
from monitor.views.live import render, summary_table
from monitor.views.metrics import families
from monitor.views.plain import final_text, plain_line
from tests.monitor.support import NOW, parse_plain, recorded, sample_report

LADDER = ["min", "p50", "p66", "p75", "p90", "p95", "p99", "p99.9", "max"]
PERCENTILES = [f for f in FIGURES if f.kind is Kind.PERCENTILES]


def test_the_ladder() -> None:
    assert [LABELS[name] for name in NAMES] == LADDER
    rep = sample_report()
    assert rep.queue_wait is not None
    assert rep.queue_wait.values() == tuple(rep.queue_wait.items()[i][1] for i in range(9))
    assert rep.queue_wait.values(SHORT) == (rep.queue_wait.p50, rep.queue_wait.p95,
                                            rep.queue_wait.p99)  # fmt: skip
    ordered = rep.queue_wait.values()
    assert list(ordered) == sorted(ordered)
    assert Percentiles(*range(9)).times(2.0).max == 16.0


def test_the_final_summaries_give_the_whole_ladder() -> None:
    rep = sample_report()
    text = final_text(rep)
    head = next(line for line in text.splitlines() if line.startswith("  percentiles (s)"))
    assert head.split()[2:] == LADDER
    for figure in PERCENTILES:
        row = next(line for line in text.splitlines() if line.startswith("  " + figure.label.text))
        assert len(row.removeprefix("  " + figure.label.text).split()) == 9
    data = summary(rep)
    for figure in PERCENTILES:
        assert list(data[figure.json]) == list(NAMES)
    page = report_html(rep)
    assert "".join(f"<th>{q}</th>" for q in LADDER) in page
    shown = show_text(StoredRun("r", data, NOW - 20, NOW))
    assert re.search(r"percentiles \(s\) +" + r" +".join(re.escape(q) for q in LADDER), shown)
    for name in NAMES:
        assert f"wait_{name}" in HEADER and f"attempt_{name}" in HEADER


def test_the_dashboard_and_the_period_lines_keep_p50_p95_p99() -> None:
    rep = sample_report()
    fields = parse_plain(plain_line(rep))
    assert {"wait_p50", "wait_p95", "wait_p99"} <= fields.keys()
    assert not {"wait_min", "wait_p66", "wait_p99_9", "wait_max"} & fields.keys()
    shown = recorded(render(rep, width=160), width=160)
    assert re.search(r"p50\s+p95\s+p99\s", shown) and "p99.9" not in shown and "p66" not in shown
    final = next(line for line in final_text(rep).splitlines() if line.startswith("  gw-a:"))
    assert "attempt_p50/p95/p99=" in final
    gauges = {
        sample.labels["percentile"]
        for family in families(rep, bounds=None)
        for sample in family.samples
        if "percentile" in sample.labels
    }
    assert gauges == {"50", "95", "99"}


def test_the_terminals_final_table_gives_the_ladder_when_it_fits() -> None:
    rep = sample_report()
    wide = recorded(summary_table(rep, 200), width=200)
    narrow = recorded(summary_table(rep, 100), width=100)
    assert re.search(r"min\s+p50\s+p66\s+p75\s+p90\s+p95\s+p99\s+p99\.9\s+max", wide)
    assert re.search(r"p50\s+p95\s+p99\n", narrow) and "p99.9" not in narrow
    assert max(len(line.rstrip()) for line in narrow.splitlines()) <= 100
