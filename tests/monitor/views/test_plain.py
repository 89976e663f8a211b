"""Plain key=value lines and the plain final summary (monitor/views/plain.py)."""

from __future__ import annotations

import io
import re

from monitor.views.plain import PlainView, final_text, plain_line
from tests.monitor.support import (
    ESC,
    parse_plain,
    sample_report,
)


def test_plain_line_is_key_value_without_escape_codes() -> None:
    line = plain_line(sample_report())
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
    fields = parse_plain(plain_line(sample_report(run="night blast=2")))
    assert fields["run"] == "night_blast_2"


def test_plain_view_prints_one_line_per_update_then_the_summary() -> None:
    out = io.StringIO()
    view = PlainView(out)
    view.update(sample_report())
    view.update(sample_report())
    view.finish(sample_report())
    lines = out.getvalue().splitlines()
    assert all(parse_plain(line) for line in lines[:3])
    assert "\n".join(lines[3:]) == final_text(sample_report())
    assert ESC not in out.getvalue()
