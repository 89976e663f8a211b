"""The catalogue of figures: one definition, every output (monitor/figures/catalogue.py).

Each test here is parametrised over the catalogue, so a figure added to it is checked in
every output at once: an output that forgets it fails here, not in a user's dashboard.
"""

from __future__ import annotations

import asyncio
import io
import json
from html import escape
from typing import Any

import pytest
from redis.asyncio import Redis

from common import keys as k
from common.keys import RunKeys
from common.run import RunState
from common.settings import MonitorSettings
from launcher.runs_text import compare_text, show_text
from monitor.figures.catalogue import FIGURES, SENDER_FIGURES, Figure, Kind, Section, SenderFigure
from monitor.figures.report import Report, build
from monitor.figures.snapshot import Snapshot
from monitor.monitor import Monitor
from monitor.tally.quantiles import NAMES, SHORT
from monitor.tally.stats import Stats
from monitor.views.csvfile import HEADER, columns
from monitor.views.history import StoredRun
from monitor.views.html import report_html
from monitor.views.json_summary import summary
from monitor.views.live import render, summary_table
from monitor.views.metrics import families, names
from monitor.views.plain import PlainView, final_text, plain_line, sender_line
from tests.monitor.support import NOW, parse_plain, recorded, sample_snapshot

WIDE = 240  # columns: room for every label and column


def running_snapshot() -> Snapshot:
    """A run under way: every figure known (rates, ETA, finish times, percentiles)."""
    state = RunState(total=100, produced=100, done=True, delivered=9, abandoned=1,
                     undeliverable=2, dead_letters=3)  # fmt: skip
    return sample_snapshot(state=state)


def running() -> Report:
    return build(running_snapshot())


def names_of(figure: Figure, ladder: tuple[str, ...] = NAMES) -> list[str]:
    """The figure's plain and CSV names: ``NAME`` or, for percentiles, ``NAME_min``,
    ``NAME_p50`` ... (the plain line: ``NAME_p50``, ``_p95``, ``_p99`` only)."""
    if figure.kind is Kind.PERCENTILES:
        return [f"{figure.name}_{q}" for q in ladder]
    return [figure.name]


def labelled(figure: Figure) -> bool:
    """Shown with a label of its own in a summary (the head's figures head it; a figure
    shown within another is in that one's value)."""
    return figure.section is not Section.HEAD and not figure.shown_by


ALL = pytest.mark.parametrize("figure", FIGURES, ids=[f.key for f in FIGURES])
SENDERS = pytest.mark.parametrize("figure", SENDER_FIGURES, ids=[f.key for f in SENDER_FIGURES])


def test_every_figure_is_a_field_of_the_report_with_unique_names() -> None:
    rep = running()
    for figure in FIGURES:
        assert hasattr(rep, figure.key), figure.key
    for attribute in ("key", "name", "json"):
        values = [getattr(f, attribute) for f in FIGURES]
        assert len(values) == len(set(values)), attribute
    assert len({f.metric.name for f in FIGURES}) == len(FIGURES)
    for figure in FIGURES:
        assert not figure.out_of or figure.out_of in {f.key for f in FIGURES}
        assert not figure.shown_by or any(f.out_of == figure.key for f in FIGURES)


@ALL
def test_the_plain_line_has_every_figure(figure: Figure) -> None:
    fields = parse_plain(plain_line(running()))
    if figure.shown_by:  # total: in sent=9/100
        owner = next(f for f in FIGURES if f.key == figure.shown_by)
        assert fields[owner.name].endswith(f"/{getattr(running(), figure.key)}")
        return
    for name in names_of(figure, SHORT):
        assert name in fields, name


@ALL
def test_the_csv_has_every_figure(figure: Figure) -> None:
    row = dict(columns(running()))
    for name in names_of(figure):
        assert name in HEADER and name in row, name


@ALL
def test_the_json_summary_has_every_figure(figure: Figure) -> None:
    data = json.loads(json.dumps(summary(running())))
    assert figure.json in data


@ALL
def test_metrics_have_every_figure(figure: Figure) -> None:
    exported = {family.name for family in families(running(), bounds=None)}
    assert "sms_sim_" + figure.metric.name in exported
    suffix = {"counter": "_total", "histogram": "_count"}.get(figure.metric.type, "")
    assert "sms_sim_" + figure.metric.name + suffix in names()


@ALL
def test_the_final_texts_have_every_figure(figure: Figure) -> None:
    rep = build(running_snapshot(), final=True)  # stopped before completion
    plain = final_text(rep)
    table = recorded(summary_table(rep), width=WIDE)
    page = report_html(rep)
    if labelled(figure):
        label = figure.label.text
        assert label in plain and label in table and escape(label) in page
    else:
        assert str(getattr(rep, figure.key)) in plain.splitlines()[0] + table


@ALL
def test_the_dashboard_has_every_figure(figure: Figure) -> None:
    shown = recorded(render(running(), width=WIDE), width=WIDE)
    if figure.section in (Section.HEAD, Section.PROGRESS):  # the title and the progress bar
        assert str(getattr(running(), figure.key))[:2] in shown
    else:
        assert figure.label.of(compressed=False, short=True) in shown


@ALL
def test_show_and_compare_have_every_figure(figure: Figure) -> None:
    stored = StoredRun("blast-1", summary(running()), NOW - 20, NOW)
    for text in (show_text(stored), compare_text(stored, stored)):
        assert figure.label.text in text


@SENDERS
def test_every_sender_figure_is_in_every_sender_output(figure: SenderFigure) -> None:
    rep = running()
    row = rep.senders[0]
    assert figure.json in summary(rep)["senders"][0]
    header = figure.header.replace("\n", " ")
    assert escape(header) in report_html(rep)
    stored = StoredRun("blast-1", summary(rep), NOW - 20, NOW)
    assert header in show_text(stored)
    if figure.kind is not Kind.TEXT:  # an error is shown under the table, and only if any
        assert f" {figure.name}" in sender_line(row)
        assert figure.header.split("\n")[0] in recorded(summary_table(rep, WIDE), width=WIDE)


def test_unknown_figures_read_as_unknown_not_zero() -> None:
    """Before the first attempt no mean or percentile is known: ``-``, empty, null."""
    empty = build(Snapshot("r", RunState(10, 10, False, 0, 0), Stats(), created=NOW - 5, now=NOW))
    fields = parse_plain(plain_line(empty))
    for name in ("avg_attempt", "avg_per_msg", "wait_p50", "attempt_p99", "fail_ratio"):
        assert fields[name] == "-", name
    row = dict(columns(empty))
    assert row["avg_attempt"] is None and row["wait_p95"] is None
    data = summary(empty)
    assert data["avg_attempt_time"] is None and data["latency"] is None
    assert "0.0000s" not in plain_line(empty)


def test_no_view_uses_a_drifted_label() -> None:
    rep = running()
    shown = final_text(rep) + recorded(summary_table(rep), width=160) + report_html(rep)
    assert "w/ retries" not in shown
    assert "throughput (overall)" not in shown


async def test_the_monitor_builds_one_report_per_report(
    fake: Redis, keys: RunKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every view is given the one report built for a period: none computes its own."""
    built: list[Report] = []
    from monitor.figures.report import build as real  # noqa: PLC0415

    def counting(snap: Snapshot, final: bool = False, forecaster: Any = None) -> Report:
        built.append(real(snap, final, forecaster))
        return built[-1]

    monkeypatch.setattr("monitor.monitor.build", counting)
    await fake.hset(
        keys.meta,
        mapping={k.META_TOTAL: 0, k.META_PRODUCED: 0, k.META_DONE: 1, k.META_CREATED: NOW},
    )
    shown: list[Report] = []

    class Recording(PlainView):
        def update(self, rep: Report) -> None:
            shown.append(rep)

        def finish(self, rep: Report) -> None:
            shown.append(rep)

    settings = MonitorSettings(run=keys.run, report_period=0.05)
    monitor = Monitor(fake, settings, Recording(io.StringIO()))
    await asyncio.wait_for(monitor.watch(asyncio.Event()), 5)
    # each view gets a report the monitor built (the final one is built twice: the first
    # starts the forecast of the final fleet), and no view builds one of its own
    assert shown and {id(r) for r in shown} <= {id(r) for r in built}
    assert len(built) == len(shown) + 1
