"""The reference's tables of figures are the catalogue's (docs/reference.md).

``uv run python -m tests.monitor.figures.test_docs`` rewrites them from the catalogue;
the test fails while they differ, so a figure added, renamed or removed in the catalogue
cannot leave the docs behind.
"""

from __future__ import annotations

import re
import sys

from monitor.figures.catalogue import COUNTER, FIGURES, HISTOGRAM, SENDER_FIGURES, Figure, Kind
from monitor.tally.quantiles import NAMES, SHORT
from monitor.views.csvfile import HEADER
from monitor.views.metrics import PREFIX
from tests.support import ROOT

REFERENCE = ROOT / "docs" / "reference.md"
UNITS = {
    Kind.COUNT: "number",
    Kind.RATE: "msg/s (simulated)",
    Kind.SPAN: "s (simulated)",
    Kind.FINISH: "s (simulated)",
    Kind.SECONDS: "s (simulated)",
    Kind.RATIO: "fraction",
    Kind.STATE: "word",
    Kind.TEXT: "text",
    Kind.PERCENTILES: "s (simulated)",
}


def _names(figure: Figure) -> str:
    if figure.kind is Kind.PERCENTILES:  # the plain line: p50, p95, p99; the CSV: all
        rest = ", ".join(f"`_{q}`" for q in NAMES[1:])
        return f"`{figure.name}_{NAMES[0]}`, {rest}"
    return f"`{figure.name}`"


def _metric(figure: Figure) -> str:
    metric = figure.metric
    name = PREFIX + metric.name + ("_total" if metric.type == COUNTER else "")
    labels = "run, profile" if metric.per_sender else "run"
    if figure.kind is Kind.PERCENTILES and metric.type != HISTOGRAM:
        labels += ", percentile"
    return f"`{name}` ({metric.type}; {labels})"


def catalogue_table() -> str:
    rows = ["| figure | kind, unit | plain and CSV | JSON | Prometheus |", "|---|---|---|---|---|"]
    for f in FIGURES:
        unit = f"{f.kind.value}, {UNITS[f.kind]}"
        rows.append(f"| {f.label.text} | {unit} | {_names(f)} | `{f.json}` | {_metric(f)} |")
    return "\n".join(rows)


def sender_table() -> str:
    rows = ["| column | kind | final text | JSON |", "|---|---|---|---|"]
    for f in SENDER_FIGURES:
        name = f"`{f.name}_{'/'.join(SHORT)}`" if f.kind is Kind.PERCENTILES else f"`{f.name}`"
        rows.append(f"| {f.header.replace(chr(10), ' ')} | {f.kind.value} | {name} | `{f.json}` |")
    return "\n".join(rows)


def csv_columns() -> str:
    return ", ".join(f"`{name}`" for name in HEADER)


SECTIONS = {"catalogue": catalogue_table, "senders": sender_table, "csv": csv_columns}


def _marked(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {name}: begin -->\n)(.*?)(<!-- {name}: end -->)", re.S)


def rewritten(text: str) -> str:
    for name, make in SECTIONS.items():
        table = make() + "\n"
        text = _marked(name).sub(lambda m: m[1] + table + m[3], text)  # noqa: B023
    return text


def test_the_reference_shows_the_catalogue() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    for name in SECTIONS:
        assert _marked(name).search(text), f"docs/reference.md lacks the {name} markers"
    assert text == rewritten(text), "run: uv run python -m tests.monitor.figures.test_docs"


if __name__ == "__main__":
    REFERENCE.write_text(rewritten(REFERENCE.read_text(encoding="utf-8")), encoding="utf-8")
    sys.exit(0)
